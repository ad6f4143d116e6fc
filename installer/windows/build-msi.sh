#!/usr/bin/env bash
# build-msi.sh VERSION BINDIR EXAMPLE OUT: build the pcipause MSI with wixl, then patch what wixl
# cannot express with msibuild.
#   - SecureCustomProperties: the public properties must be secure to reach the elevated
#     (server-side) part of a managed install.
#   - HideTarget on the configure custom action (below).
#   - RemoveExistingProducts right after InstallValidate: a major upgrade removes the old
#     product (its service, files and Run value) before installing the new one, so no component
#     reference counting between the two can keep a stale service registration. The config,
#     state and audit trail under %ProgramData%\pcipause are not components and stay.
set -euo pipefail
version=$1 bindir=$2 example=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
for tool in wixl msibuild msiinfo; do
	command -v "$tool" >/dev/null || { echo "build-msi: $tool not installed (Debian packages wixl, msitools)" >&2; exit 1; }
done
for f in "$bindir/pcipause.exe" "$bindir/pcipause-session.exe" "$example"; do
	[[ -f $f ]] || { echo "build-msi: missing $f (make build)" >&2; exit 1; }
done
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "build-msi: version $version is not N.N.N" >&2; exit 1; }

# wixl resolves File/@Source against the working directory and refuses absolute paths: stage
# the inputs and build there.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$bindir/pcipause.exe" "$bindir/pcipause-session.exe" "$stage/"
# The annotated example spells out the Linux paths; on Windows the defaults under
# %ProgramData%\pcipause apply, so the [paths] keys are commented out in the MSI's copy.
awk '/^\[/ { inpaths = ($0 ~ /^\[paths\][[:space:]]*(#.*)?$/) }
	inpaths && /^[A-Za-z_]+[[:space:]]*=/ { print "# " $0; next }
	{ print }' "$example" >"$stage/pcipause.example.toml"
grep -q '^# credential = ' "$stage/pcipause.example.toml" || { echo "build-msi: [paths] not found in $example" >&2; exit 1; }
cp "$here/pcipause.wxs" "$stage/"

public="CXONE_BACKEND;CXONE_ORG;CXONE_TENANT;CLIENT_ID;AGENT_MAPPING;CLIENT_SECRET;CLIENT_SECRET_FILE"
mkdir -p "$(dirname "$out")"
tmp=$(cd "$(dirname "$out")" && pwd)/$(basename "$out").tmp
rm -f "$tmp"
(cd "$stage" && wixl -a x64 -D Version="$version" -D BinDir=. -D ExampleConfig=pcipause.example.toml -o "$tmp" pcipause.wxs)

secure=$(msiinfo export "$tmp" Property | awk -F'\t' '$1=="SecureCustomProperties"{print $2}')
if [[ -n $secure ]]; then
	msibuild "$tmp" -q "UPDATE \`Property\` SET \`Value\` = '$secure;$public' WHERE \`Property\` = 'SecureCustomProperties'"
else
	msibuild "$tmp" -q "INSERT INTO \`Property\` (\`Property\`, \`Value\`) VALUES ('SecureCustomProperties', '$public')"
fi
# HideTarget (0x2000), which wixl drops: Windows Installer then logs neither the custom action's
# command line nor its data, so CLIENT_SECRET stays out of verbose logs.
for ca in ConfigurePcipause StoreClientSecret; do
	type=$(msiinfo export "$tmp" CustomAction | awk -F'\t' -v ca=$ca '$1==ca{print $2}')
	[[ -n $type ]] || { echo "build-msi: no $ca custom action" >&2; exit 1; }
	msibuild "$tmp" -q "UPDATE \`CustomAction\` SET \`Type\` = $((type | 0x2000)) WHERE \`Action\` = '$ca'"
done
msibuild "$tmp" -q "UPDATE \`InstallExecuteSequence\` SET \`Sequence\` = 1401 WHERE \`Action\` = 'RemoveExistingProducts'"
mv -f "$tmp" "$out"
echo "build-msi: wrote $out"
