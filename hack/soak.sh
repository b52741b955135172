#!/usr/bin/env bash
# soak.sh is `make soak`, after Knative's Sacura: a three-node KRaft cluster, a topic of 10
# partitions with replication 3 and min.insync.replicas 2, 100 events/s through the ingress for
# SOAK_DURATION (default 10m) to a subscriber via the dispatcher; then 0 lost, at most 0.1%
# duplicates, and the group's committed offsets equal to the topic's end offsets (test/fault's
# TestSoak, built with the soak tag). It also runs the dispatcher-SIGKILL fault at soak size
# (50,000 events) against a single-node Kafka started here. Each prints a report line
# `fault=<name> sent=… accepted=… delivered_unique=… lost=… duplicates=… dup_rate=…%`.
#
# Bounded: go test's -timeout is SOAK_DURATION plus 30 minutes, and every process is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${SOAK_DURATION:-10m}
export SOAK_DURATION=$duration
# Go durations in h/m/s (e.g. 10m, 90s, 1h30m) to seconds, for the timeout.
secs=$(python3 - "$duration" <<'PY'
import re, sys
d = sys.argv[1]
parts = re.fullmatch(r'(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?', d)
if not d or not parts:
    sys.exit(f"SOAK_DURATION={d!r}: use hours, minutes and seconds, e.g. 10m, 90s, 1h30m")
h, m, s = (int(x or 0) for x in parts.groups())
print(h * 3600 + m * 60 + s)
PY
)
timeout="$((secs + 1800))s"

bash hack/kafka.sh install
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/knkafka-soak.XXXXXX")
export KNKAFKA_KAFKA_RUN=$run_dir/kafka
cleanup() {
  bash hack/kafka.sh stop || true
  rm -rf "$run_dir"
}
trap cleanup EXIT
started=$(bash hack/kafka.sh start)
eval "$started"
export KAFKA_BOOTSTRAP_SERVERS KAFKA_VERSION

echo "== soak: $duration at 100 ev/s on three Kafka $KAFKA_VERSION nodes, and the dispatcher-SIGKILL fault at 50,000 events (timeout $timeout)"
log=$run_dir/soak.log
status=0
go test -race -count=1 -tags soak -timeout "$timeout" -v \
  -run '^(TestSoak|TestDispatcherKilledEveryFewSeconds)$' ./test/fault/ >"$log" 2>&1 || status=$?
grep -E -- '^(=== RUN|--- |\s+\S+_test\.go:[0-9]+: )' "$log" | grep -v '"level"' || true
if [ $status -ne 0 ]; then
  echo "== soak FAILED; the last lines of the log:"
  tail -50 "$log"
  exit $status
fi
echo "== soak passed"
