#!/usr/bin/env bash
# verify-codegen.sh (`make verify-codegen`) fails when generated code differs from what the pinned
# generators produce now. It regenerates into a scratch copy of the module, so the tree is left alone,
# and compares the copy's generated files with the tree's.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/knkafka-codegen.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# The generators only read the module files and the API packages.
mkdir -p "$scratch/control-plane/pkg"
cp go.mod go.sum "$scratch/"
cp -R control-plane/pkg/apis "$scratch/control-plane/pkg/apis"
find "$scratch/control-plane/pkg/apis" -name 'zz_generated.*.go' -delete

bash hack/update-codegen.sh "$scratch" >/dev/null

stale=0
diff -ru control-plane/pkg/client "$scratch/control-plane/pkg/client" || stale=1
while IFS= read -r -d '' f; do
  rel=${f#"$scratch/"}
  diff -u "$rel" "$f" || stale=1
done < <(find "$scratch/control-plane/pkg/apis" -name 'zz_generated.*.go' -print0)
# A generated file in the tree that the generators no longer write is stale too.
while IFS= read -r -d '' f; do
  [ -f "$scratch/$f" ] || { echo "no longer generated: $f"; stale=1; }
done < <(find control-plane/pkg/apis -name 'zz_generated.*.go' -print0)

if [ "$stale" -ne 0 ]; then
  echo "generated code is stale: run 'make generate' and commit the result" >&2
  exit 1
fi
echo "generated code is up to date"
