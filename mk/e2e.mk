# e2e: end-to-end tests on a private Xvfb with real applications (e2e/, e2e/xenv, e2e/frames).
# The representative matrix runs inside `go test ./...` (test-unit); these targets show it
# verbosely or run the long matrix.

DEB_PACKAGES += xvfb openbox xdotool ffmpeg tesseract-ocr tesseract-ocr-eng xterm zenity yad python3-tk fonts-dejavu-core

.PHONY: test-e2e
test-e2e: ## end-to-end tests, verbose: baseline OCR per app, masked field, pcipause local on 4 app/speed cases
	$(GO) test -count=1 -timeout 20m -v ./e2e ./e2e/frames | grep -E '^(=== RUN|--- |ok|FAIL|PASS|panic)|_test.go'; exit $${PIPESTATUS[0]}

.PHONY: test-e2e-full
test-e2e-full: ## the long end-to-end matrix: every app x 80/20/5 ms per key x plain/grouped (about 10 minutes)
	PCIPAUSE_E2E_FULL=1 $(GO) test -count=1 -timeout 60m -v -run '^TestLocalMasksAndPauses$$' ./e2e | grep -E '^(=== RUN|--- |ok|FAIL|PASS|panic)|_test.go'; exit $${PIPESTATUS[0]}
