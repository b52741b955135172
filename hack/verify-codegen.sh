#!/usr/bin/env bash
# verify-codegen.sh fails when generated code differs from what the generators produce now.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/update-codegen.sh
if ! git diff --exit-code --stat; then
  echo "generated code is stale: run 'make generate' and commit the result" >&2
  exit 1
fi
echo "generated code is up to date"
