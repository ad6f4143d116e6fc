# tray: the session helper's notification-area icon (tray/, tray/icons/).

# The tray's end-to-end tests run a private D-Bus session bus.
DEB_PACKAGES += dbus-daemon

.PHONY: tray-icons
tray-icons: ## redraw the tray icons (tray/icons/*.png, *.ico) and their previews (docs/img/tray-*.png)
	$(GO) run ./tray/icons/gen -out tray/icons -docs docs/img

.PHONY: test-tray
test-tray: ## tray end to end: StatusNotifierItem on a private D-Bus, its menu, Copy diagnostics on Xvfb
	$(GO) test -count=1 -v -run 'TestTray|TestEmbeddedFilesMatchDrawing' ./tray/... | grep -E '^(=== RUN|--- |ok|FAIL|PASS|panic)|SKIP|skip'; exit $${PIPESTATUS[0]}

TEST_STEPS += test-tray

.PHONY: tray-screenshots
tray-screenshots: ## screenshots of each tray state under a real tray host (needs xfce4-panel) into docs/img/
	bash tray/demo/screenshots.sh docs/img
