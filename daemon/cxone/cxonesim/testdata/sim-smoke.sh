#!/usr/bin/env bash
# Smoke test of the built binary: `pcipause sim --tls` prints one JSON line, answers the
# control API and `pcipause doctor`, and exits 0 on SIGTERM with its temporary CA file removed.
# Usage: sim-smoke.sh path/to/pcipause
set -euo pipefail
bin=${1:?usage: sim-smoke.sh path/to/pcipause}
work=$(mktemp -d)
simpid=
cleanup() { [ -n "$simpid" ] && kill "$simpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkfifo "$work/out"
"$bin" sim --tls >"$work/out" 2>"$work/sim.log" &
simpid=$!
exec 3<"$work/out"
read -r -t 30 line <&3 || { echo "sim-smoke: no JSON line"; cat "$work/sim.log"; exit 1; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$line" "$1"; }
for k in base_url token_url client_id client_secret agent_id interaction_id recording_id control_url ca_file; do
	[ -n "$(field "$k")" ] || { echo "sim-smoke: $k missing in $line"; exit 1; }
done
ca=$(field ca_file) ctl=$(field control_url)

# Control API: a second recording on the demo interaction, then the call log.
rec=$(curl -sS --cacert "$ca" -X POST -d "{\"interactionId\":\"$(field interaction_id)\"}" "$ctl/recordings")
echo "$rec" | grep -q '"id":"rec-' || { echo "sim-smoke: control API: $rec"; exit 1; }

printf '%s\n' "$(field client_secret)" >"$work/secret"
cat >"$work/pcipause.toml" <<TOML
version = 1
[cxone]
backend = "wem-v1"
base_url = "$(field base_url)"
token_url = "$(field token_url)"
client_id = "$(field client_id)"
ca_file = "$ca"
client_secret_file = "$work/secret"
[paths]
state_dir = "$work"
log_dir = "$work"
socket = "$work/ipc.sock"
credential = "$work/cred"
TOML
"$bin" doctor --config "$work/pcipause.toml" --agent "$(field agent_id)" | tee "$work/doctor.out"
grep -q "2 active" "$work/doctor.out" || { echo "sim-smoke: doctor did not list both recordings"; exit 1; }
calls=$(curl -sS --cacert "$ca" "$ctl/calls")
echo "$calls" | grep -q '"op":"list"' || { echo "sim-smoke: call log lacks the list call"; exit 1; }

kill -TERM "$simpid"
rc=0; wait "$simpid" || rc=$?
simpid=
[ "$rc" = 0 ] || { echo "sim-smoke: sim exited $rc on SIGTERM"; cat "$work/sim.log"; exit 1; }
[ ! -e "$ca" ] || { echo "sim-smoke: ca_file left behind"; exit 1; }
echo "sim-smoke: ok"
