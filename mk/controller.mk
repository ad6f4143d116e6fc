# Pause controller, state file and audit trail.

TEST_STEPS += test-controller-crash

CRASH_SEEDS ?= 60
CRASH_SWEEP_SEEDS ?= 400

.PHONY: test-controller-crash
test-controller-crash: ## SIGKILL the controller subprocess at random points over CRASH_SEEDS seeds and check the restart finishes the work
	$(GO) test -count=1 -run '^TestCrashRecoverySIGKILL$$' ./daemon/controller -args -crash.seeds=$(CRASH_SEEDS)

.PHONY: crash-sweep
crash-sweep: ## the long SIGKILL sweep (CRASH_SWEEP_SEEDS seeds, a few minutes)
	$(GO) test -count=1 -timeout 60m -run '^TestCrashRecoverySIGKILL$$' ./daemon/controller -args -crash.seeds=$(CRASH_SWEEP_SEEDS)

.PHONY: bench-controller
bench-controller: ## decision latency (event to first pause byte on the wire) and the 500-agent fleet run
	$(GO) test -run '^$$' -bench 'BenchmarkDecisionLatency' -benchtime 1000x ./daemon/controller
	$(GO) test -run '^$$' -bench 'BenchmarkFleet' -benchtime 1x -timeout 30m ./daemon/controller -args -fleet.agents=500 -fleet.rate=100

.PHONY: audit-verify
audit-verify: ## verify the audit chain of the installed service's state file (read-only; works while it runs)
	$(GO) run ./cmd/pcipause audit verify
