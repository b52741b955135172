#!/usr/bin/env bash
# update-codegen.sh regenerates every generated file (`make generate`): deepcopy methods next to the
# API types, and under control-plane/pkg/client the clientset, listers, informers (k8s.io/code-generator)
# and the Knative injection clients, informers and reconcilers (knative.dev/pkg injection-gen).
# The generators are pinned as `tool` directives in go.mod and run with `go tool`.
#
#   hack/update-codegen.sh            regenerate in place
#   hack/update-codegen.sh DIR        write into DIR instead, a copy of the tree (verify-codegen.sh)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-$repo}
cd "$repo"

module=knkafka.dev
apis=$module/control-plane/pkg/apis
client=$module/control-plane/pkg/client
client_dir=$root/control-plane/pkg/client
header=$repo/hack/boilerplate.go.txt
# API version packages (group/version under control-plane/pkg/apis) with generated clients.
versions=(eventing/v1alpha1 messaging/v1beta1 sources/v1beta1)
inputs=("${versions[@]/#/$apis/}")

rm -rf "$client_dir"
# The generators resolve inputs through the module in the working directory, so run them from root.
cd "$root"

echo "== deepcopy-gen"
go tool deepcopy-gen --go-header-file "$header" --output-file zz_generated.deepcopy.go "${inputs[@]}"

echo "== client-gen"
input_flags=()
for v in "${versions[@]}"; do input_flags+=(--input "$v"); done
go tool client-gen --go-header-file "$header" \
  --input-base "$apis" "${input_flags[@]}" \
  --output-dir "$client_dir/clientset" --output-pkg "$client/clientset" --clientset-name versioned

echo "== lister-gen"
go tool lister-gen --go-header-file "$header" \
  --output-dir "$client_dir/listers" --output-pkg "$client/listers" "${inputs[@]}"

echo "== informer-gen"
go tool informer-gen --go-header-file "$header" \
  --versioned-clientset-package "$client/clientset/versioned" --listers-package "$client/listers" \
  --output-dir "$client_dir/informers" --output-pkg "$client/informers" "${inputs[@]}"

echo "== injection-gen"
go tool injection-gen --go-header-file "$header" \
  --input-dirs "$(IFS=,; echo "${inputs[*]}")" \
  --versioned-clientset-package "$client/clientset/versioned" \
  --external-versions-informers-package "$client/informers/externalversions" \
  --listers-package "$client/listers" \
  --output-dir "$client_dir/injection" --output-package "$client/injection"

gofmt -s -w "$client_dir" $(find "$root/control-plane/pkg/apis" -name 'zz_generated.*.go')
