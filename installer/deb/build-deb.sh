#!/usr/bin/env bash
# build-deb.sh VERSION BINDIR EXAMPLE OUT: build the pcipause Debian package with dpkg-deb from
# the Linux binaries in BINDIR, the units and autostart entry in installer/linux, the example
# config (installed as the conffile /etc/pcipause/pcipause.toml) and the maintainer scripts here.
set -euo pipefail
version=$1 bindir=$2 example=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
maintainer=${DEB_MAINTAINER:-pcipause maintainers <packaging@pcipause.example.com>}
linux=$here/../linux
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb not installed" >&2; exit 1; }
for f in "$bindir/pcipause" "$bindir/pcipause-session" "$example"; do
	[[ -f $f ]] || { echo "build-deb: missing $f (make build)" >&2; exit 1; }
done
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "build-deb: version $version is not N.N.N" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
umask 022
install -D -m 0755 "$bindir/pcipause" "$root/usr/bin/pcipause"
install -D -m 0755 "$bindir/pcipause-session" "$root/usr/bin/pcipause-session"
install -D -m 0644 "$linux/pcipause.service" "$root/lib/systemd/system/pcipause.service"
install -D -m 0644 "$linux/pcipause-session.service" "$root/usr/lib/systemd/user/pcipause-session.service"
install -D -m 0644 "$linux/pcipause-session.desktop" "$root/etc/xdg/autostart/pcipause-session.desktop"
install -D -m 0644 "$example" "$root/etc/pcipause/pcipause.toml"
install -D -m 0644 "$example" "$root/usr/share/doc/pcipause/examples/pcipause.example.toml"
install -D -m 0644 "$here/copyright" "$root/usr/share/doc/pcipause/copyright"
install -D -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/pcipause"
date=$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")
printf 'pcipause (%s) stable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' \
	"$version" "$version" "$maintainer" "$date" | gzip -9n >"$root/usr/share/doc/pcipause/changelog.gz"
chmod 0644 "$root/usr/share/doc/pcipause/changelog.gz"

install -d -m 0755 "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" -e "s|@MAINTAINER@|$maintainer|" "$here/control.in" >"$root/DEBIAN/control"
printf '%s\n' /etc/pcipause/pcipause.toml /etc/xdg/autostart/pcipause-session.desktop >"$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$root/DEBIAN/$s"; done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$(dirname "$out")"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out"
echo "build-deb: wrote $out"
