# pcipause — run `make help` for the targets. Every Go target builds with CGO_ENABLED=0.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# MSI/deb want a numeric version: the latest tag if it is one, else 0.1.<commit count>.
PKGVERSION ?= $(shell v=$$(git describe --tags --abbrev=0 2>/dev/null | sed 's/^v//'); \
	if [[ "$$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$$ ]]; then echo $$v; else echo 0.1.$$(git rev-list --count HEAD 2>/dev/null || echo 0); fi)

export CGO_ENABLED := 0
export GOFLAGS := -trimpath
GO      ?= go
LDFLAGS := -s -w -X pcipause/daemon/buildinfo.Version=$(VERSION) -X pcipause/daemon/buildinfo.Commit=$(COMMIT) -X pcipause/daemon/buildinfo.Date=$(DATE)

# Debian packages the tests, the demo and the installers need. Fragments in mk/ add to it.
DEB_PACKAGES := xvfb openbox xdotool x11-utils xauth imagemagick ffmpeg tesseract-ocr tesseract-ocr-eng \
	xterm zenity yad python3-tk at-spi2-core dbus-x11 libglib2.0-bin fonts-dejavu-core procps \
	msitools wine wine64 gcc-mingw-w64-x86-64-win32 lintian systemd

# Test steps beyond the Go unit tests; fragments in mk/ append their targets.
TEST_STEPS :=

include $(sort $(wildcard mk/*.mk))

.PHONY: help
help: ## show this help
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN{FS=":.*## "}{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install the Debian packages tests and demo need (apt-get as root, else list them)
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "deps: installing $$missing"; \
		dpkg --print-foreign-architectures | grep -q i386 || true; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "deps: missing Debian packages; run as root: apt-get install --no-install-recommends $$missing" >&2; exit 1; \
	fi

.PHONY: build
build: ## build both binaries for linux/amd64 and windows/amd64 into dist/<os>-<arch>/
	GOOS=linux GOARCH=amd64 $(GO) build -ldflags '$(LDFLAGS)' -o dist/linux-amd64/ ./cmd/pcipause ./cmd/pcipause-session
	GOOS=windows GOARCH=amd64 $(GO) build -ldflags '$(LDFLAGS)' -o dist/windows-amd64/pcipause.exe ./cmd/pcipause
	GOOS=windows GOARCH=amd64 $(GO) build -ldflags '$(LDFLAGS) -H=windowsgui' -o dist/windows-amd64/pcipause-session.exe ./cmd/pcipause-session

.PHONY: check
check: ## gofmt, go vet (linux and windows), Windows cross-build and Windows test compile
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; find . -name '*.go' -newer go.mod -not -path './dist/*' 2>/dev/null) | sort -u); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=windows $(GO) build ./...
	GOOS=windows $(GO) test -exec=true ./... >/dev/null

# Packages whose goroutines the race detector should watch (-race needs cgo).
RACE_PKGS ?= ./daemon/...
# Execution counts, not durations: a duration budget trips a Go 1.26 fuzz-coordinator race at
# its deadline (golang/go#75804, "context deadline exceeded" with no failing input).
FUZZTIME ?= 20000x

.PHONY: test-unit
test-unit: ## Go unit and integration tests, then -race on the daemon packages
	$(GO) test -count=1 -timeout 15m ./...
	CGO_ENABLED=1 $(GO) test -count=1 -race -timeout 15m $(RACE_PKGS)

.PHONY: fuzz
fuzz: ## a short run of every fuzz target (FUZZTIME each)
	@set -e; for pkg in $$($(GO) list ./...); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for f in $$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' $$dir/*_test.go 2>/dev/null | awk '{print $$2}'); do \
			echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; done

.PHONY: test
test: deps check test-unit fuzz $(TEST_STEPS) ## the whole test suite (what CI runs)
	@echo "make test: all passed"

.PHONY: bench
bench: deps build ## the benchmark report: bench/results.json, bench/REPORT.md and plots (about 15 minutes)
	$(GO) run ./e2e/bench --bin dist/linux-amd64 --out bench

.PHONY: bench-quick
bench-quick: deps build ## a representative subset of make bench (under 3 minutes) into out/bench-quick/
	$(GO) run ./e2e/bench --bin dist/linux-amd64 --out out/bench-quick --quick

.PHONY: bench-go
bench-go: ## every Go benchmark of the hot paths with -benchmem (no report)
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: clean
clean: ## remove build outputs
	rm -rf dist out
