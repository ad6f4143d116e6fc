#!/usr/bin/env bash
# wineenv.sh DIR SHIM -- CMD...: run CMD with a private Wine prefix under DIR and a private Xvfb.
#
# The prefix is created once per DIR (wineboot -i) and the ProcessPrng shim SHIM is copied into
# its system32, so Go 1.24+ executables start under Wine 8. Xvfb takes the first free display in
# PCIPAUSE_WINE_DISPLAYS (default 85..94) with -nolisten tcp. CMD sees DISPLAY, WINEPREFIX,
# WINEDEBUG and WINEDLLOVERRIDES; on exit the wineserver and the Xvfb are stopped.
set -euo pipefail

dir=$1 shim=$2
shift 2
[[ ${1:-} == -- ]] && shift

for tool in wine wineboot wineserver Xvfb; do
	command -v "$tool" >/dev/null || { echo "wineenv: $tool not installed (make deps)" >&2; exit 1; }
done

mkdir -p "$dir"
export WINEPREFIX
WINEPREFIX=$(cd "$dir" && pwd)/prefix
export WINEDEBUG=${WINEDEBUG:--all}
# No Mono/Gecko install prompts; our bcryptprimitives.dll wins over any builtin.
export WINEDLLOVERRIDES="mscoree,mshtml=;bcryptprimitives=n,b"
export WINEARCH=win64

xpid=
cleanup() {
	wineserver -k >/dev/null 2>&1 || true
	if [[ -n $xpid ]]; then kill "$xpid" 2>/dev/null || true; wait "$xpid" 2>/dev/null || true; fi
}
trap cleanup EXIT

displays=${PCIPAUSE_WINE_DISPLAYS:-$(seq 85 94)}
for n in $displays; do
	[[ -e /tmp/.X$n-lock || -e /tmp/.X11-unix/X$n ]] && continue
	Xvfb ":$n" -screen 0 1280x1024x24 -nolisten tcp >"$dir/xvfb-$n.log" 2>&1 &
	xpid=$!
	for _ in $(seq 50); do
		[[ -e /tmp/.X11-unix/X$n ]] && break
		kill -0 "$xpid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ -e /tmp/.X11-unix/X$n ]] && kill -0 "$xpid" 2>/dev/null; then
		export DISPLAY=:$n
		break
	fi
	wait "$xpid" 2>/dev/null || true
	xpid=
done
[[ -n $xpid ]] || { echo "wineenv: no free X display in: $displays" >&2; exit 1; }

if [[ ! -f $WINEPREFIX/system.reg ]]; then
	echo "wineenv: creating Wine prefix $WINEPREFIX" >&2
	wineboot -i >"$dir/wineboot.log" 2>&1
	wineserver -w
fi
cp -f "$shim" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
# A persistent wineserver: otherwise it exits a moment after each program and the next one
# can race its shutdown ("wine client error: recvmsg: Connection reset by peer").
wineserver -p

"$@"
