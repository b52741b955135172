#!/usr/bin/env bash
# bench.sh is `make bench` (BENCH=short|full; smoke checks the driver in a minute or two):
#  1. the Go micro-benchmarks of the hot paths (every package with a Benchmark function), and
#  2. test/bench's driver, which starts its own private Kafka with hack/kafka.sh, runs
#     knkafka-dataplane processes from contract files through each scenario next to ceilings
#     measured in the same run, stops everything it started, and writes
#     test/bench/results/<time>-<profile>.{json,md} plus PNG plots (latest.json/.md link the newest).
# BENCH_SCENARIOS=ingress,dispatcher,... runs a subset in the order named (default: all but the opt-in "incumbent", which
# runs scenario 3's pipeline against Knative's Kafka broker data plane as two local JVMs built once
# with `bash hack/incumbent.sh build`, and fails when they are not built); BENCH_BOOTSTRAP=host:port uses a running Kafka;
# BENCH_FANOUT=1,10,100,1000 replaces the profile's fan-out trigger counts; BENCH_PPROF=DIR writes CPU
# profiles of the ingress and dispatcher roles at each end-to-end fixed rate into DIR; BENCH_MICRO=0
# skips the micro-benchmarks; BENCH_DATAPLANE_ENV="GOMAXPROCS=1 GOGC=200" sets the environment of the
# data-plane processes only (not of the driver, which is the load generator and the subscriber).
# docs/benchmarks.md explains the scenarios and shows the latest table.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-short}
case $profile in short|full|smoke) ;; *) echo "usage: $0 short|full|smoke" >&2; exit 2 ;; esac
out=test/bench/results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
bin=$(mktemp -d "${TMPDIR:-/tmp}/knkafka-bench-bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT

echo "[bench] building knkafka-dataplane and the benchmark driver" >&2
go build -o "$bin/knkafka-dataplane" ./data-plane/cmd/knkafka-dataplane
# test/bench is its own module (vegeta and gonum/plot stay out of the root go.mod); -mod=mod lets it
# follow requirement bumps of the root module it replaces knkafka.dev with.
(cd test/bench && GOFLAGS="${GOFLAGS:-} -mod=mod" go build -o "$bin/knkafka-bench" ./cmd/knkafka-bench)

micro=$out/micro-$stamp.txt
benchtime=1s
case $profile in full) benchtime=5s ;; smoke) benchtime=100ms ;; esac
mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Benchmark' data-plane control-plane 2>/dev/null | xargs -r -n1 dirname | sort -u | sed 's|^|./|')
if [ ${#pkgs[@]} -gt 0 ] && [ "${BENCH_MICRO:-1}" != 0 ]; then
  echo "[bench] micro-benchmarks (-benchtime $benchtime): ${pkgs[*]}" >&2
  go test -run '^$' -bench . -benchmem -benchtime "$benchtime" "${pkgs[@]}" | tee "$micro" >&2
fi

args=(--profile "$profile" --repo "$PWD" --dataplane "$bin/knkafka-dataplane" --out "$out")
[ -s "$micro" ] && args+=(--micro "$micro")
[ -n "${BENCH_SCENARIOS:-}" ] && args+=(--scenarios "$BENCH_SCENARIOS")
[ -n "${BENCH_BOOTSTRAP:-}" ] && args+=(--bootstrap-servers "$BENCH_BOOTSTRAP")
[ -n "${BENCH_FANOUT:-}" ] && args+=(--fanout "$BENCH_FANOUT")
[ -n "${BENCH_PPROF:-}" ] && args+=(--pprof "$BENCH_PPROF")
[ -n "${BENCH_DATAPLANE_ENV:-}" ] && args+=(--dataplane-env "$BENCH_DATAPLANE_ENV")
"$bin/knkafka-bench" "${args[@]}"
