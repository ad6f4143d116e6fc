# config, credential and ipc: the strict config file, the credential store and the local
# service <-> helper protocol (daemon/config, daemon/credential, daemon/ipc).

.PHONY: test-config-cli
test-config-cli: ## config check on the shipped example and on a broken file; credential set/check round trip as a built binary
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(GO) build -o $$tmp/pcipause ./cmd/pcipause; \
	$$tmp/pcipause config check --config installer/pcipause.example.toml >$$tmp/out; \
	grep -q "valid" $$tmp/out; \
	printf '[cxone]\nclient_idd = "x"\n' >$$tmp/bad.toml; \
	if $$tmp/pcipause config check --config $$tmp/bad.toml 2>$$tmp/err; then echo "config check accepted a bad file"; exit 1; fi; \
	grep -q "line 2: key cxone.client_idd: unknown key" $$tmp/err; \
	printf '[cxone]\norg = "acme"\n[paths]\ncredential = "%s/cred"\n' $$tmp >$$tmp/c.toml; \
	echo test-only-secret | $$tmp/pcipause credential set --config $$tmp/c.toml >/dev/null; \
	test "$$(stat -c %a $$tmp/cred)" = 600; \
	$$tmp/pcipause credential check --config $$tmp/c.toml >/dev/null; \
	chmod 644 $$tmp/cred; \
	if $$tmp/pcipause credential check --config $$tmp/c.toml 2>/dev/null; then echo "credential check accepted a 0644 file"; exit 1; fi; \
	echo "test-config-cli: ok"

.PHONY: fuzz-config-long
fuzz-config-long: ## a longer fuzz run (FUZZTIME_LONG each, default 2m) of the config, credential and IPC decoders
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(or $(FUZZTIME_LONG),2m) ./daemon/config
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(or $(FUZZTIME_LONG),2m) ./daemon/credential
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(or $(FUZZTIME_LONG),2m) ./daemon/ipc

TEST_STEPS += test-config-cli

# Windows build of the config tests under Wine: proves the %ProgramData% known-folder lookup
# and the decoder on Windows. Xvfb for Wine takes the first free display of 65..69.
CONFIG_WINE_DIR ?= out/wine-config

.PHONY: test-config-wine
test-config-wine: ## config tests built for Windows and run under Wine (known-folder paths, decoding, printing)
	@mkdir -p $(CONFIG_WINE_DIR)
	GOOS=windows GOARCH=amd64 $(GO) test -c -o $(CONFIG_WINE_DIR)/config.test.exe ./daemon/config
	x86_64-w64-mingw32-gcc -shared -O2 -o $(CONFIG_WINE_DIR)/bcryptprimitives.dll \
		installer/winetest/shim/processprng.c installer/winetest/shim/bcryptprimitives.def -lbcrypt
	cd daemon/config && PCIPAUSE_WINE_DISPLAYS="65 66 67 68 69" ../../installer/winetest/wineenv.sh \
		../../$(CONFIG_WINE_DIR) ../../$(CONFIG_WINE_DIR)/bcryptprimitives.dll -- \
		wine ../../$(CONFIG_WINE_DIR)/config.test.exe -test.count=1 -test.v \
		-test.run '^(TestDefaultPathsWindows|TestParseValid|TestParseErrors|TestLoadFiles|TestWriteRoundTrip|TestRedacted)$$' \
		| grep -E '^(--- |ok|FAIL|PASS|panic)'; exit $${PIPESTATUS[0]}

TEST_STEPS += test-config-wine
