#!/usr/bin/env bash
# removeall-overlay.sh OUTDIR: write a `go build -overlay` file for the Windows test
# executables run under Wine 8. Inside the module, OUTDIR's name must start with "_" so that
# `go build ./...` does not take the patched copy for a package.
#
# Go 1.26's os.RemoveAll on Windows deletes through NtSetInformationFile with
# FileDispositionInformationEx and falls back to the old way only for the NTSTATUS codes
# Windows uses; Wine 8 answers STATUS_NOT_IMPLEMENTED ("Invalid function"), so every
# t.TempDir cleanup fails. The overlay adds Wine's codes to that fallback list in a copy of
# internal/syscall/windows/at_windows.go. Only test executables are built with it; the
# binaries the end-to-end test runs are the real ones.
set -euo pipefail
out=$1
src="$(go env GOROOT)/src/internal/syscall/windows/at_windows.go"
mkdir -p "$out"
sed 's|^\(\t\tSTATUS_NOT_SUPPORTED\):\(.*\)$|\1, NTStatus(0xC0000002), NTStatus(0xC0000010):\2 (and Wine 8)|' "$src" >"$out/at_windows.go"
if ! grep -q 'NTStatus(0xC0000002)' "$out/at_windows.go"; then
	echo "removeall-overlay: $src changed; update this script for the new Go version" >&2
	exit 1
fi
printf '{"Replace":{"%s":"%s"}}\n' "$src" "$(cd "$out" && pwd)/at_windows.go" >"$out/overlay.json"
