package svcctl

import "strings"

// unitTemplate is the systemd unit, in kardianos/service's template syntax so `pcipause install`
// and the Debian package install the same file. Only the ExecStart line varies.
//
// Hardening: the service needs the network (CXone), its state and log directories, and the
// runtime directory holding the IPC socket (/run/pcipause/ipc.sock, 0755 so session helpers of
// any user can reach the socket; the IPC server checks each peer with SO_PEERCRED). Everything
// else of the file system is read-only to it. CAP_SYS_NICE lets it raise the priority of the
// installed session helper ([overlay] helper_nice). Restart=always with no start limit: a guard that
// gives up is a guard that fails open.
const unitTemplate = `[Unit]
Description=pcipause recording guard (pauses CXone screen recordings while card data is on screen)
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=` + execStartTemplate + `
Restart=always
RestartSec=2
TimeoutStopSec=20
RuntimeDirectory=pcipause
RuntimeDirectoryMode=0755
StateDirectory=pcipause
StateDirectoryMode=0700
LogsDirectory=pcipause
LogsDirectoryMode=0750
ReadWritePaths=/var/lib/pcipause /var/log/pcipause
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
CapabilityBoundingSet=CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_KILL CAP_SYS_NICE

[Install]
WantedBy=multi-user.target
`

const execStartTemplate = `{{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}`

// SystemdUnit renders the unit for the binary at exe run with args, exactly as kardianos
// writes it on install. installer/linux/pcipause.service is
// SystemdUnit("/usr/bin/pcipause", Arguments("")).
func SystemdUnit(exe string, args []string) string {
	var b strings.Builder
	b.WriteString(cmdEscape(exe))
	for _, a := range args {
		b.WriteString(" " + cmdQuote(a))
	}
	return strings.Replace(unitTemplate, execStartTemplate, b.String(), 1)
}
