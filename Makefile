# AAM — two commands set everything up on a fresh machine:
#   make run    start PostgreSQL if none answers, then the whole mesh (aam dev)
#   make test   start PostgreSQL if needed, then vet, format-check and test every module

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
BIN       ?= bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/aam-mesh/aam/pkg/buildinfo.Version=$(VERSION)
MODULES   := $(shell $(GO) list -f '{{.Dir}}' -m)
ROLES     := aam gateway onboarding sync repair credential-broker schema-observer airbyte-emulator

export TEST_DATABASE_URL ?= postgres://aam:aam@127.0.0.1:5432/aam_test?sslmode=disable

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: postgres
postgres: ## make sure a local PostgreSQL answers and has AAM's role and databases
	@deploy/local/postgres.sh

.PHONY: build
build: ## build every role into bin/
	@mkdir -p $(BIN)
	@for r in $(ROLES); do \
		out=$(BIN)/$$( [ $$r = aam ] && echo aam || echo aam-$$r ); \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./services/$$r || exit 1; \
	done
	@echo "built $(ROLES) into $(BIN)/"

.PHONY: run
run: postgres ## run the whole mesh locally (embedded NATS, PostgreSQL, Airbyte emulator, workers, gateway)
	@mkdir -p $(BIN)
	@echo "building $(BIN)/aam (the first build downloads and compiles the modules: a minute or two)..."
	@$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/aam ./services/aam
	@echo "starting aam dev $(ARGS) (Ctrl-C stops it)"
	@exec $(BIN)/aam dev --stop-with-parent $(ARGS)

.PHONY: test
test: postgres tools ## vet, format-check and test every module (race detector on)
	@$(MAKE) --no-print-directory check
	@for m in $(MODULES); do \
		echo "== go test $${m#$(CURDIR)/}"; \
		(cd $$m && $(GO) test -race -count=1 -timeout 10m ./...) || exit 1; \
	done

.PHONY: check
check: ## go vet and gofmt on every module
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@echo "vet and gofmt clean"

.PHONY: tools
tools: ## install the tools the tests drive (nats CLI, docker-compose)
	@deploy/scripts/install-test-tools.sh

.PHONY: bench
bench: ## load-test the whole pipeline (aam bench) and print throughput, latency and peak RSS
	@AAM_PG_DATABASES="aam aam_test aam_bench" deploy/local/postgres.sh
	@deploy/local/bench-replica.sh
	@mkdir -p $(BIN)
	@$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/aam ./services/aam
	$(BIN)/aam bench $(ARGS)

.PHONY: chaos
chaos: ## beat separate processes of the whole mesh with faults and bad input, then check the outcome (aam chaos)
	@mkdir -p $(BIN)
	@$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/aam ./services/aam
	$(BIN)/aam chaos $(ARGS)

# FUZZTIME is how long each fuzz target runs: a duration (60s) or a count
# of executions (1000000x, the default).
FUZZTIME ?= 1000000x

.PHONY: fuzz
fuzz: ## fuzz every request decoder (CloudEvents codec, worker runtime, gateway JSON and CloudEvents HTTP), FUZZTIME each
	cd events && $(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) .
	cd pkg && $(GO) test -run '^$$' -fuzz '^FuzzDecodeRequest$$' -fuzztime $(FUZZTIME) ./bus
	cd services && $(GO) test -run '^$$' -fuzz '^FuzzJSONRequest$$' -fuzztime $(FUZZTIME) ./internal/gateway
	cd services && $(GO) test -run '^$$' -fuzz '^FuzzCloudEventsHTTP$$' -fuzztime $(FUZZTIME) ./internal/gateway

.PHONY: images
images: ## build the container image (needs a Docker engine)
	docker build --build-arg VERSION=$(VERSION) -t aam:$(VERSION) -t aam:latest .

.PHONY: tidy
tidy: ## go mod tidy in every module
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy) || exit 1; done

.PHONY: clean
clean: ## empty the local stack (its registry schema and .aam-data) and remove build output
	@if [ -d .aam-data ]; then \
		[ -x $(BIN)/aam ] || $(GO) build -o $(BIN)/aam ./services/aam; \
		$(BIN)/aam dev --reset --data-dir .aam-data; \
	fi
	rm -rf $(BIN) .aam-data
