# make demo — the main job on the embedded default (see README).

.PHONY: demo
demo: deps build ## build, run simulator + service + session helper on a display, type a test card, film and report
	CGO_ENABLED=0 $(GO) run ./e2e/demo --bin dist/linux-amd64 --out out
