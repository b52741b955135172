#!/usr/bin/env bash
# update-codegen.sh regenerates every generated file in the tree (`make generate`). Generators are
# pinned in go.mod / hack/tools/go.mod and run through `go generate` directives next to their inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
go generate ./...
