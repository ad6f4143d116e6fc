# hooks: the X11 event source, the PCI detector and the guard (hooks/, hooks/detect,
# hooks/card, hooks/x11). Their Xvfb tests (displays :70-:74) run in test-unit.

DEB_PACKAGES += xvfb openbox xdotool xterm x11-utils xauth zenity at-spi2-core dbus-x11

.PHONY: test-hooks-race
test-hooks-race: ## the hooks, detector and guard tests under the race detector (Xvfb tests included)
	CGO_ENABLED=1 $(GO) test -count=1 -race -timeout 10m ./hooks/...

.PHONY: bench-hooks
bench-hooks: ## detector ns/allocs per key and X11 key arrival latency (p50/p99/max) on a private Xvfb
	$(GO) test -run '^$$' -bench . -benchmem ./hooks/detect
	$(GO) test -run '^$$' -bench X11KeyArrival -benchtime 3000x ./hooks

TEST_STEPS += test-hooks-race
