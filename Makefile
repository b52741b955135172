# knkafka — a thin front over go and the scripts in hack/. `make help` lists the targets.
SHELL := /usr/bin/env bash
CACHE ?= $(HOME)/.cache/knkafka
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(CACHE)/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)
BINARIES := $(shell go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./... 2>/dev/null)
BENCH ?= short

.PHONY: help build test soak bench run lint fmt generate verify-codegen clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## build every binary into bin/
	@mkdir -p bin
	go build -o bin/ $(BINARIES)

test: ## all tests with -race, against a real Kafka (installed and started here, stopped after)
	bash hack/test.sh

soak: ## 100 ev/s for SOAK_DURATION (default 10m) on 3 Kafka nodes: 0 lost, <=0.1% duplicates, offsets committed
	bash hack/soak.sh

bench: ## benchmarks (BENCH=short|full); results under test/bench/results
	bash hack/bench.sh $(BENCH)

run: build ## the all-in-one quickstart
	bash hack/run.sh

lint: $(GOLANGCI_LINT) ## golangci-lint v2 with the project's linters
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	@mkdir -p $(dir $@)
	cd hack/tools && go build -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

fmt: ## gofmt the tree
	gofmt -s -w $$(git ls-files '*.go')

generate: ## regenerate generated code
	bash hack/update-codegen.sh

verify-codegen: ## fail when generated code is stale
	bash hack/verify-codegen.sh

clean: ## remove build outputs
	rm -rf bin
