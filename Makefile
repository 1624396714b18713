# chatd — see README.md.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
STATICCHECK_VERSION ?= 2026.2.2

.PHONY: all build run test test-go test-browser check fuzz bench bench-100k clean

all: build

build:
	$(GO) build -o chatd ./cmd/chatd

## run: the server with its embedded defaults (chat :7272, page :55151).
run:
	$(GO) run ./cmd/chatd

## test: everything CI runs — Go tests with -race (unit, fuzz seeds, e2e,
## conformance) and the real-browser test (installs chromium and npm deps).
test: test-go test-browser

test-go:
	$(GO) mod download
	$(GO) test -race -count=1 -timeout 15m ./...

test-browser:
	bash e2e/browser/run.sh

## check: gofmt, go vet, staticcheck and the race tests.
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) test -race -count=1 -timeout 15m ./...

## fuzz: each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	@for t in $$($(GO) test -list 'Fuzz.*' ./codec/ | grep ^Fuzz); do \
		echo "== $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./codec/ || exit 1; \
	done

clean:
	rm -f chatd chatbench
