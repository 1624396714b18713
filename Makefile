# chatd — see README.md.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build run test lint test-scripts test-go test-fuzz test-faults test-browser test-nginx check fuzz bench bench-build bench-100k clean

all: build

## build: the chatd binary (BIN, default ./chatd). Services run this
## binary, never `go run` (see run).
BIN ?= ./chatd
build:
	$(GO) build -o $(BIN) ./cmd/chatd

## run: build, then exec the server with its embedded defaults (chat :7272,
## page :55151); ARGS="-echo ..." adds flags. exec makes chatd make's own
## child, so a SIGTERM to make reaches it (GNU make passes SIGTERM to its
## children) and Ctrl-C reaches it directly. `go run` would not do this:
## it dies on SIGTERM and leaves chatd running with its ports held.
run: build
	exec $(BIN) $(ARGS)

## test: everything CI runs — the static checks (lint), Go tests with
## -race (unit, fuzz seed corpora, e2e, hostile input, cluster, RFC 6455
## conformance), each fuzz target briefly, the real-browser test (installs
## Debian's chromium and playwright-core) and chat through a real nginx
## terminating TLS (installs nginx and openssl).
test: lint test-scripts test-go test-fuzz test-browser test-nginx

## test-scripts: the shell helpers of the e2e scripts (e2e/apt.sh).
test-scripts:
	bash e2e/apt_test.sh

test-go:
	$(GO) mod download
	$(GO) test -race -count=1 -timeout 15m ./...

# A count, not a duration: a time-bounded -fuzztime can end with a spurious
# "context deadline exceeded" failure when the clock runs out mid-input.
test-fuzz:
	$(MAKE) fuzz FUZZTIME=50000x

## test-faults: the cluster fault scenarios of e2e/cluster alone, verbose,
## without -race (a real 3-server NATS cluster, 3 chatd nodes, NATS
## servers and nodes killed under chat load, invariants checked). Every
## scenario also runs in test-go at the default sizes (about 4 minutes
## of the Go tests under -race here), the chat gap reported, not
## asserted; CHATD_FAULTS_FULL=1 make test-faults runs issue 9's full
## sizes (300 members, 10 s faults, 60 cold starts) and asserts the gap
## under 3 s.
test-faults:
	$(GO) test -count=1 -timeout 30m -v ./e2e/cluster/

test-browser:
	bash e2e/browser/run.sh

test-nginx:
	bash e2e/nginx/run.sh

## lint: the static checks: gofmt, go vet, staticcheck, go.mod tidy, and
## every apt-get in a script waiting for the dpkg lock (a concurrent apt run
## must not fail the test command).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) mod tidy -diff
	@out=$$(git grep -nE '^[^#]*apt-get' -- '*.sh' ':!e2e/apt_test.sh' | grep -v 'DPkg::Lock::Timeout='); if [ -n "$$out" ]; then echo "apt-get without -o DPkg::Lock::Timeout=...:"; echo "$$out"; exit 1; fi

## check: the static checks and the race tests.
check: lint test-go

## fuzz: each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	@for p in ./codec/ ./room/; do \
		for t in $$($(GO) test -list 'Fuzz.*' $$p | grep ^Fuzz); do \
			echo "== $$p $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
		done; \
	done

## bench: the load benchmark (bench/README.md): builds chatd, the gorilla
## baseline (bench/baseline), the nbio baseline (bench/nbiobaseline) and
## chatbench, runs every scenario against all three (about 15 minutes here:
## 14m19s on 2026-12-03) and writes bench/results/<date>/report.md.
BENCH_OUT ?= bench/results/$(shell date +%Y-%m-%d)
BENCH_BIN := bench/bin
bench-build:
	$(GO) build -o $(BENCH_BIN)/chatd ./cmd/chatd
	$(GO) build -o $(BENCH_BIN)/baseline ./bench/baseline
	$(GO) build -o $(BENCH_BIN)/nbiobaseline ./bench/nbiobaseline
	$(GO) build -o $(BENCH_BIN)/chatbench ./cmd/chatbench

bench: bench-build
	$(BENCH_BIN)/chatbench suite -out $(BENCH_OUT) -chatd $(BENCH_BIN)/chatd -baseline $(BENCH_BIN)/baseline -nbio $(BENCH_BIN)/nbiobaseline $(BENCH_FLAGS)

## bench-100k: 100,000 logged-in clients on a cluster of 7 chatd nodes
## over NATS (one process holds < 20,000 sockets here), rooms spread over
## the nodes, then broadcast latency in 5 rooms under that load; writes
## bench/results/<date>/100k.md and 100k.json (about 2½ minutes).
bench-100k: bench-build
	$(BENCH_BIN)/chatbench suite -size 100k -out $(BENCH_OUT) -chatd $(BENCH_BIN)/chatd $(BENCH_FLAGS)

clean:
	rm -f chatd chatbench
