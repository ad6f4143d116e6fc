# Windows: the Windows code paths tested under Wine (Debian's wine 8) on a private Xvfb.
# Go 1.24+ executables need ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks: a shim
# DLL built here with mingw provides it inside the test prefix only (never shipped).

WINE_OUT      ?= out/winetest
WINE_SHIM     := $(WINE_OUT)/bcryptprimitives.dll
WINE_BIN      := $(WINE_OUT)/bin
# Packages whose tests run as Windows executables under Wine: the shared unit tests (card,
# detector, IPC protocol, config, controller, credential codec) and the Windows code itself
# (prio: the helper's priority class).
WINE_UNIT_PKGS ?= ./hooks ./hooks/card ./hooks/detect ./overlay ./daemon/ipc ./daemon/credential \
	./daemon/supervise ./daemon/config ./daemon/controller ./daemon/prio

$(WINE_SHIM): installer/winetest/shim/processprng.c installer/winetest/shim/bcryptprimitives.def
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -O2 -shared -s -o $@ $^ -lbcrypt

.PHONY: winetest-shim
winetest-shim: $(WINE_SHIM) ## build the ProcessPrng shim DLL that lets Go executables start under Wine 8

.PHONY: winetest-build
winetest-build: $(WINE_SHIM) ## build the Windows binaries and Windows test executables the Wine tests run
	@rm -rf $(WINE_BIN) && mkdir -p $(WINE_BIN)/unit
	installer/winetest/removeall-overlay.sh $(WINE_OUT)/_overlay
	@set -e; for p in $(WINE_UNIT_PKGS); do \
		n=$$(echo $$p | sed 's|^\./||; s|/|_|g'); \
		echo "GOOS=windows go test -c $$p"; \
		GOOS=windows GOARCH=amd64 $(GO) test -c -overlay $(WINE_OUT)/_overlay/overlay.json -o $(WINE_BIN)/unit/$$n.test.exe $$p; done
	GOOS=windows GOARCH=amd64 $(GO) build -ldflags '$(LDFLAGS)' -o $(WINE_BIN)/pcipause.exe ./cmd/pcipause
	GOOS=windows GOARCH=amd64 $(GO) build -ldflags '$(LDFLAGS) -H=windowsgui' -o $(WINE_BIN)/pcipause-session.exe ./cmd/pcipause-session

# The session helper's manifest (per-monitor DPI awareness, asInvoker) is linked from a .syso
# made by mingw windres and committed, so a plain `go build` embeds it too.
.PHONY: winres
winres: ## regenerate cmd/pcipause-session/rsrc_windows_amd64.syso from winres/ (mingw windres)
	cd cmd/pcipause-session/winres && x86_64-w64-mingw32-windres -O coff -o ../rsrc_windows_amd64.syso pcipause-session.rc

.PHONY: test-windows
test-windows: winetest-build ## Windows unit tests and the end-to-end test under Wine (private prefix and Xvfb)
	@tmp=$$(mktemp -d /tmp/pcipause-wine.XXXXXX); trap 'rm -rf "$$tmp"' EXIT; \
	PCIPAUSE_WINETEST_BIN=$(abspath $(WINE_BIN)) installer/winetest/wineenv.sh "$$tmp" $(WINE_SHIM) -- \
		$(GO) test -count=1 -timeout 10m -tags winetest $(WINETEST_FLAGS) ./installer/winetest/

TEST_STEPS += test-windows
