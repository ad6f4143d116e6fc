#!/usr/bin/env bash
# Screenshots of the tray in each state under a real StatusNotifierItem host (xfce4-panel's
# status tray) on Xvfb, with the menu open: docs/img/tray-screenshot-<state>.png.
# Run from the repository root: make tray-screenshots
set -euo pipefail
out=${1:-docs/img}
for tool in Xvfb xfce4-panel xdotool import convert dbus-run-session gdbus; do
	command -v "$tool" >/dev/null || { echo "screenshots: $tool missing (make deps; apt-get install xfce4-panel)" >&2; exit 1; }
done
work=$(mktemp -d)
xvfb_pid=
cleanup() { [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null && wait "$xvfb_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
CGO_ENABLED=0 go build -o "$work/demo" ./tray/demo

# a free display in :55–:59 (a lock whose server is gone does not count)
display=
for n in 55 56 57 58 59; do
	if [ -f /tmp/.X$n-lock ] && kill -0 "$(tr -d ' \n' </tmp/.X$n-lock)" 2>/dev/null; then continue; fi
	display=:$n; break
done
[ -n "$display" ] || { echo "screenshots: no free display in :55–:59" >&2; exit 1; }
W=520 H=200
Xvfb "$display" -nolisten tcp -screen 0 ${W}x${H}x24 >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 100); do xdotool getdisplaygeometry --display "$display" >/dev/null 2>&1 && break; sleep 0.1; done

# one panel on top: a spacer, then the status tray (22 px icons) at the right end
mkdir -p "$work/cfg/xfce4/xfconf/xfce-perchannel-xml"
cat >"$work/cfg/xfce4/xfconf/xfce-perchannel-xml/xfce4-panel.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="28"/>
      <property name="plugin-ids" type="array"><value type="int" value="1"/><value type="int" value="2"/></property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
    <property name="plugin-2" type="string" value="systray">
      <property name="icon-size" type="int" value="22"/>
      <property name="square-icons" type="bool" value="true"/>
    </property>
  </property>
</channel>
XML

shoot() { # state reason detail
	local state=$1 reason=$2 detail=$3
	DISPLAY=$display XDG_CONFIG_HOME=$work/cfg dbus-run-session -- bash -c '
		set -u
		xfce4-panel --disable-wm-check >"$0/panel.log" 2>&1 & panel=$!
		for _ in $(seq 100); do
			gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
				--method org.freedesktop.DBus.NameHasOwner org.kde.StatusNotifierWatcher 2>/dev/null | grep -q true && break
			sleep 0.1
		done
		"$0/demo" -state "$1" -reason "$2" -detail "$3" -version 1.0.0 >"$0/demo.log" 2>&1 & demo=$!
		sleep 2                               # the panel draws the icon
		xdotool mousemove '$((W - 14))' 14 click 1
		sleep 1.5                             # the menu opens
		import -window root "$0/shot.png"
		kill $demo $panel; wait $demo $panel 2>/dev/null || true
	' "$work" "$state" "$reason" "$detail" 2>/dev/null
	convert "$work/shot.png" -crop 440x180+$((W - 440))+0 +repage "$out/tray-screenshot-$state.png"
	echo "wrote $out/tray-screenshot-$state.png"
}

shoot recording PCI_DATA_DETECTED ""
shoot pci-active PCI_DATA_DETECTED "field Card number"
shoot degraded PCI_DATA_DETECTED "service unreachable"
shoot not-recording "" ""
