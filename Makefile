# roman's build and test entry points. `make test` is THE test command: CI
# (.ci/run) runs exactly it. See DEVELOPERS.md.

GO           ?= go
PKGS         ?= ./...
# Two packages at a time: CI has 2 cores, and the PostgreSQL and SQLite
# suites are I/O bound enough that more only adds contention.
TEST_PARALLEL ?= 2
TEST_TIMEOUT  ?= 20m
# The packages that run goroutines of their own (the monitor, the rollback
# runner, the alert sender, the chat-ops bot, ingest, the store's listeners
# and the whole server) are tested under the race detector, once: their
# tests run only with -race, the others without it.
RACE_RE      ?= /(monitor|rollback|notify|chatops|ingest|sqldb|server)(/|$$)
TESTFLAGS     ?=
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS      := -X github.com/odyssey-1/roman.Version=$(VERSION)

.PHONY: all build test test-node vet fmt fmt-check lint bench clean

all: build

## build: the roman binary in ./bin/roman, stamped with the git version.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/roman ./cmd/roman

## test: go vet, then every test once (no cache), two packages at a time;
## the packages matching RACE_RE under the race detector; then test-node
## (unless PKGS names only some packages).
## PostgreSQL tests use ROMAN_TEST_POSTGRES or start their own cluster.
test: vet
	@pkgs="$$($(GO) list $(PKGS))"; \
	plain="$$(printf '%s\n' $$pkgs | grep -Ev '$(RACE_RE)' || true)"; \
	race="$$(printf '%s\n' $$pkgs | grep -E '$(RACE_RE)' || true)"; \
	status=0; \
	if [ -n "$$plain" ]; then \
		echo "go test $(PKGS) (without the race detector)"; \
		$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -p $(TEST_PARALLEL) $(TESTFLAGS) $$plain || status=1; \
	fi; \
	if [ -n "$$race" ]; then \
		echo "go test -race (monitor, rollback, notify, chatops, ingest, sqldb, server)"; \
		$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -p $(TEST_PARALLEL) $(TESTFLAGS) $$race || status=1; \
	fi; \
	if [ "$(PKGS)" = "./..." ]; then $(MAKE) --no-print-directory test-node || status=1; fi; \
	exit $$status

## test-node: the TypeScript client's and the GitHub Action's tests with
## node's test runner, against a real roman (.ci/node-tests); skipped with a
## notice when node or npm is missing, a failure under CI=true.
test-node:
	@GO=$(GO) ./.ci/node-tests

vet:
	$(GO) vet $(PKGS)

## fmt: rewrite every Go file with gofmt.
fmt:
	gofmt -w $$(git ls-files '*.go')

## fmt-check: fail when a file is not gofmt-clean.
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "not gofmt-clean:"; echo "$$out"; exit 1; fi

## lint: formatting and vet.
lint: fmt-check vet

## bench: the performance benchmarks of docs/benchmarks.md (not part of make test).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m $(PKGS)

clean:
	rm -rf bin
