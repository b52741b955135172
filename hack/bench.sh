#!/usr/bin/env bash
# bench.sh is `make bench`: Go micro-benchmarks of the hot paths with allocations, written as
# machine-readable output under test/bench/results/. The scenario benchmarks against real Kafka
# (ingress, dispatcher, end to end, fan-out, footprint) are added by the benchmarks work.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-short}
out=test/bench/results
mkdir -p "$out"
benchtime=1s
[ "$profile" = full ] && benchtime=5s
stamp=$(date -u +%Y%m%dT%H%M%SZ)
go test -run '^$' -bench . -benchmem -benchtime "$benchtime" ./... | tee "$out/micro-$stamp.txt"
go test -run '^$' -bench . -benchmem -benchtime "$benchtime" -json ./... >"$out/micro-$stamp.json" 2>/dev/null || true
echo "results: $out/micro-$stamp.txt and .json"
