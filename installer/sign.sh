#!/usr/bin/env bash
# sign.sh CERT KEY FILE...: Authenticode-sign Windows executables and MSI packages in place with
# osslsigncode (SHA-256), then verify each signature.
#   CERT  the code-signing certificate, PEM or DER, with its chain (SPC/PEM bundle)
#   KEY   its private key, PEM or DER; a passphrase comes from SIGN_KEY_PASS if set
#   SIGN_TIMESTAMP_URL  optional RFC 3161 time-stamping server, so signatures outlive the cert
#   SIGN_CAFILE         optional CA bundle for the verification step (default: the cert itself)
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: sign.sh CERT KEY FILE..." >&2; exit 2; }
cert=$1 key=$2
shift 2
command -v osslsigncode >/dev/null || { echo "sign: osslsigncode not installed (Debian package osslsigncode)" >&2; exit 1; }
for f in "$cert" "$key"; do [[ -r $f ]] || { echo "sign: cannot read $f" >&2; exit 1; }; done

args=(-certs "$cert" -key "$key" -h sha256 -n pcipause)
[[ -n ${SIGN_KEY_PASS:-} ]] && args+=(-pass "$SIGN_KEY_PASS")
[[ -n ${SIGN_TIMESTAMP_URL:-} ]] && args+=(-ts "$SIGN_TIMESTAMP_URL")
for f in "$@"; do
	[[ -f $f ]] || { echo "sign: no such file $f" >&2; exit 1; }
	tmp=$f.signing
	rm -f "$tmp"
	osslsigncode sign "${args[@]}" -in "$f" -out "$tmp" >/dev/null
	osslsigncode verify -CAfile "${SIGN_CAFILE:-$cert}" -in "$tmp" >/dev/null || {
		rm -f "$tmp"; echo "sign: signature on $f does not verify" >&2; exit 1; }
	mv -f "$tmp" "$f"
	echo "sign: signed $f"
done
