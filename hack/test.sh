#!/usr/bin/env bash
# test.sh is `make test`: it installs and starts a private real Apache Kafka (hack/kafka.sh), builds
# etcd and kube-apiserver (hack/kube.sh) and the kn CLI (hack/kn.sh), runs every Go test with -race
# against them, stops Kafka, and exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== $(go version)"
bash hack/kafka.sh install
# etcd and kube-apiserver for the tests on a real control plane (test/kubetest): built from the Go
# module proxy into the cache on first use (about 8.5 min on a fresh machine), seconds afterwards.
kube_assets=$(bash hack/kube.sh build)
eval "$kube_assets"
export KUBEBUILDER_ASSETS
# The real kn CLI for the end-to-end tests that drive it as users do: built from the Go module proxy
# into the cache on first use (a few minutes), seconds afterwards.
kn_binary=$(bash hack/kn.sh build)
eval "$kn_binary"
export KN_BINARY

# A run directory of our own, so a developer's `hack/kafka.sh start` cluster is left alone.
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/knkafka-test.XXXXXX")
export KNKAFKA_KAFKA_RUN=$run_dir/kafka
cleanup() {
  bash hack/kafka.sh stop || true
  rm -rf "$run_dir"
}
trap cleanup EXIT

started=$(bash hack/kafka.sh start)
eval "$started"
export KAFKA_BOOTSTRAP_SERVERS KAFKA_VERSION
echo "== testing against Apache Kafka $KAFKA_VERSION (KRaft, 1 node) at $KAFKA_BOOTSTRAP_SERVERS"

# Tests that need more than this broker start private clusters of their own through
# test/kafkatest, each with its own KNKAFKA_KAFKA_RUN: three nodes for the fault suite, one node
# with SASL and TLS listeners (kafkatest.StartSecured) for kafkaconn's TestRealKafka.
go test -race -count=1 -timeout 25m ${GOTEST_FLAGS:-} ./...

# The parsers of untrusted input, fuzzed for a bounded time each (their seed corpora and any
# regression inputs under testdata/fuzz already ran above): HTTP event parsing in every mode, the
# ingress server's request heads (against net/http's parser), the
# contract decoder, the local YAML loader, filter building and evaluation, and Kafka auth Secrets.
fuzz_time=${FUZZTIME:-10s}
for target in \
	./data-plane/pkg/ingress:FuzzParseEvents \
	./data-plane/pkg/h1server:FuzzParseHead \
	./control-plane/pkg/contract:FuzzUnmarshal \
	./local/resources:FuzzReadFile \
	./data-plane/pkg/dispatcher:FuzzFilter \
	./kafkaconn:FuzzParseSecret; do
	echo "== fuzzing ${target#*:} for $fuzz_time"
	go test -run '^$' -fuzz "^${target#*:}\$" -fuzztime "$fuzz_time" "${target%%:*}"
done
echo "== all tests passed against Apache Kafka $KAFKA_VERSION"
