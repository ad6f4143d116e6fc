# overlay: the X11 masking windows (overlay/).

.PHONY: test-overlay-race
test-overlay-race: ## overlay tests on a private Xvfb under the race detector (Show is called from any goroutine)
	CGO_ENABLED=1 $(GO) test -count=1 -race ./overlay

.PHONY: bench-overlay
bench-overlay: ## overlay Show latency (configure+map+raise+round trip) on a private Xvfb: p50/p99/max over 2000 shows
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkShow$$' -benchtime=2000x ./overlay

TEST_STEPS += test-overlay-race
