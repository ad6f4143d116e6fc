# CXone client, simulator, webhook receiver and doctor.

TEST_STEPS += test-sim-smoke
DEB_PACKAGES += curl python3

.PHONY: test-sim-smoke
test-sim-smoke: ## build pcipause and smoke-test `pcipause sim --tls`, its control API, `doctor` and SIGTERM
	@mkdir -p out
	$(GO) build -o out/pcipause-smoke ./cmd/pcipause
	daemon/cxone/cxonesim/testdata/sim-smoke.sh out/pcipause-smoke

.PHONY: sim
sim: ## run the CXone simulator with a demo tenant over TLS (prints one JSON line; Ctrl-C stops)
	$(GO) run ./cmd/pcipause sim --tls

.PHONY: bench-cxone
bench-cxone: ## benchmark client calls against the in-process simulator over loopback TLS
	$(GO) test -run '^$$' -bench . -benchmem ./daemon/cxone/
