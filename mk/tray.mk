# tray: the session helper's notification-area icon (tray/, tray/icons/).

# The tray's end-to-end tests run a private D-Bus session bus and a real tray host (the status
# tray of xfce4-panel, 19 small packages) on Xvfb.
DEB_PACKAGES += dbus-daemon xfce4-panel

.PHONY: tray-icons
tray-icons: ## redraw the tray icons (tray/icons/*.png, *.ico) and their previews (docs/img/tray-*.png)
	$(GO) run ./tray/icons/gen -out tray/icons -docs docs/img

.PHONY: test-tray
test-tray: ## tray end to end: StatusNotifierItem on a private D-Bus, its menu, Copy diagnostics, xfce4-panel on Xvfb
	$(GO) test -count=1 -v -run 'TestTray|TestEmbeddedFilesMatchDrawing' ./tray/... | grep -E '^(=== RUN|--- |ok|FAIL|PASS|panic)|SKIP|skip'; exit $${PIPESTATUS[0]}

TEST_STEPS += test-tray

.PHONY: tray-screenshots
tray-screenshots: ## screenshots of each tray state under a real tray host (needs xfce4-panel) into docs/img/
	bash tray/demo/screenshots.sh docs/img

# The tray's Windows code (systray's Win32 loop stopped through a context, the ICO files read
# by LoadImage at every size, the clipboard) built for Windows and run under Wine on Xvfb
# (first free display of 55..59), with the ProcessPrng shim Go needs under Wine 8.
TRAY_WINE_DIR ?= out/wine-tray

.PHONY: test-tray-wine
test-tray-wine: ## tray tests built for Windows and run under Wine (notification-area loop, ICO loading, clipboard)
	@mkdir -p $(TRAY_WINE_DIR)
	GOOS=windows GOARCH=amd64 $(GO) test -c -o $(TRAY_WINE_DIR)/tray.test.exe ./tray
	x86_64-w64-mingw32-gcc -shared -O2 -o $(TRAY_WINE_DIR)/bcryptprimitives.dll \
		installer/winetest/shim/processprng.c installer/winetest/shim/bcryptprimitives.def -lbcrypt
	cd tray && PCIPAUSE_WINE_DISPLAYS="55 56 57 58 59" ../installer/winetest/wineenv.sh \
		../$(TRAY_WINE_DIR) ../$(TRAY_WINE_DIR)/bcryptprimitives.dll -- \
		wine ../$(TRAY_WINE_DIR)/tray.test.exe -test.count=1 -test.v -test.run '^TestWin' \
		| grep -E '^(--- |ok|FAIL|PASS|panic)|tray_windows_test'; exit $${PIPESTATUS[0]}

TEST_STEPS += test-tray-wine
