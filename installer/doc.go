// Package installer holds no code: it is where the packaging tests live. They check the MSI
// (its tables, then install, upgrade and removal under Wine), the Debian package (lintian, then
// dpkg -i / -r on this host) and Authenticode signing, against the artifacts `make test-msi`,
// `make test-deb` and the signing test build. The MSI source, the Debian maintainer scripts, the
// systemd units and the autostart entry sit in the folders beside this file.
package installer
