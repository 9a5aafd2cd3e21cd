#!/usr/bin/env bash
# Installs Amazon RDS's global CA bundle at /usr/local/share/itemsd/rds-global-bundle.pem: the
# trust anchors itemsd checks the database's certificate against (DB_SSLMODE=verify-full,
# DB_SSLROOTCERT pointing here). It is fetched at image build time, not at boot: an instance then
# needs no route to AWS's trust store to connect to the database, and every instance from one
# AMI trusts the same, recorded bytes. Next to it goes rds-global-bundle.pem.sha256 (sha256sum's
# format, so `sha256sum -c` checks it there), so the image itself says what it trusts;
# validate-image.sh checks it, and the Packer build downloads it into its manifest.
#
# Runs as root, on the Packer build instance or in the boot test's chroot (offline, with a
# file:// URL). Needs curl, openssl and sha256sum (all in AL2023's base image). Env:
#   RDS_CA_BUNDLE_URL     optional: where to fetch the bundle (default: AWS's address below).
#                         https:// only; file:/// is accepted for the offline tests.
#   RDS_CA_BUNDLE_SHA256  optional: the sha256 the bundle must have (64 lowercase hex digits,
#                         as sha256sum prints it); the build fails on any other. Unset or empty:
#                         whatever passes the checks below is installed (and its sha256 recorded).
#   RDS_CA_ROOT           optional: root directory to install under (default /), for testing this
#                         script outside an image.
set -o errexit -o nounset -o pipefail

readonly DEFAULT_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
readonly INSTALL_DIR=/usr/local/share/itemsd
readonly BUNDLE_NAME=rds-global-bundle.pem
# The bundle is about 100 certificates, some 150 KB; anything far larger is not it.
readonly MAX_BYTES=2097152

RDS_CA_BUNDLE_URL=${RDS_CA_BUNDLE_URL:-$DEFAULT_URL}
RDS_CA_BUNDLE_SHA256=${RDS_CA_BUNDLE_SHA256:-}
RDS_CA_ROOT=${RDS_CA_ROOT:-/}

die() {
    echo "install-rds-ca: error: $*" >&2
    exit 1
}

[[ "$(id -u)" == 0 ]] || die "must run as root"
# curl's --proto limits the URL's scheme (and --proto-redir every redirect's) to https: a
# trust anchor must not come over plain http, whatever a redirect says. file:// exists only so
# that the boot tests can run this script offline.
case "$RDS_CA_BUNDLE_URL" in
    https://?*) proto='=https' ;;
    file:///?*) proto='=file' ;;
    *) die "RDS_CA_BUNDLE_URL must be an https:// URL (or file:/// for tests), not '$RDS_CA_BUNDLE_URL'" ;;
esac
if [[ -n "$RDS_CA_BUNDLE_SHA256" && ! "$RDS_CA_BUNDLE_SHA256" =~ ^[0-9a-f]{64}$ ]]; then
    die "RDS_CA_BUNDLE_SHA256 must be 64 lowercase hex digits (sha256sum's output), not '$RDS_CA_BUNDLE_SHA256'"
fi
[[ -d "$RDS_CA_ROOT" ]] || die "RDS_CA_ROOT=$RDS_CA_ROOT is not a directory"
for tool in curl openssl sha256sum awk install; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

dest_dir=${RDS_CA_ROOT%/}$INSTALL_DIR
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --fail: an HTTP error is an error, not an error page saved as the bundle. Bounded: 10 s to
# connect, 60 s in all per attempt, 5 retries (curl retries only transient failures: timeouts,
# 408, 429, 5xx), and a size cap.
curl --fail --silent --show-error --location \
    --proto "$proto" --proto-redir '=https' --tlsv1.2 \
    --connect-timeout 10 --max-time 60 --retry 5 --retry-delay 2 --retry-connrefused \
    --max-filesize "$MAX_BYTES" \
    --output "$tmp/bundle.pem" "$RDS_CA_BUNDLE_URL" ||
    die "could not fetch $RDS_CA_BUNDLE_URL"
[[ -s "$tmp/bundle.pem" ]] || die "$RDS_CA_BUNDLE_URL is empty"

# Split the bundle into one file per certificate, refusing anything else in PEM form (a private
# key, a CRL) and unbalanced markers; text outside the blocks is ignored, as TLS libraries
# ignore it. Prints the number of certificates, or what is wrong (and fails).
mkdir "$tmp/certs"
if ! count=$(awk -v dir="$tmp/certs" '
    { sub(/\r$/, "") }
    /^-----BEGIN / {
        if ($0 != "-----BEGIN CERTIFICATE-----") { bad = "line " NR ": not a certificate: " $0; exit }
        if (open) { bad = "line " NR ": BEGIN inside a certificate"; exit }
        open = 1
        n++
        file = sprintf("%s/%04d.pem", dir, n)
    }
    open { print > file }
    /^-----END / {
        if (!open || $0 != "-----END CERTIFICATE-----") { bad = "line " NR ": unexpected " $0; exit }
        open = 0
        close(file)
    }
    END {
        if (bad == "" && open) bad = "the last certificate has no END line"
        if (bad != "") { print bad; exit 1 }
        print n + 0
    }
' "$tmp/bundle.pem"); then
    die "$RDS_CA_BUNDLE_URL is not a PEM bundle of certificates: $count"
fi
((count > 0)) || die "$RDS_CA_BUNDLE_URL holds no PEM certificate"

# Each block must parse as an X.509 certificate. Expired ones are counted for the build log, not
# refused: which CAs the bundle keeps is AWS's call, and what RDS servers chain to.
expired=0
for cert in "$tmp"/certs/*.pem; do
    parsed=$(openssl x509 -noout -subject -in "$cert" 2>&1) ||
        die "certificate $((10#$(basename "$cert" .pem))) of $count in $RDS_CA_BUNDLE_URL does not parse: ${parsed%%$'\n'*}"
    openssl x509 -noout -checkend 0 -in "$cert" >/dev/null || expired=$((expired + 1))
done

actual=$(sha256sum "$tmp/bundle.pem" | cut -d' ' -f1)
if [[ -n "$RDS_CA_BUNDLE_SHA256" && "$actual" != "$RDS_CA_BUNDLE_SHA256" ]]; then
    die "$RDS_CA_BUNDLE_URL has sha256 $actual, not the pinned $RDS_CA_BUNDLE_SHA256 (RDS_CA_BUNDLE_SHA256): AWS may have published a new bundle; review it before changing the pin"
fi
printf '%s  %s\n' "$actual" "$BUNDLE_NAME" >"$tmp/bundle.pem.sha256"

# World-readable, root-owned: itemsd runs as a DynamicUser and only reads it (ProtectSystem=strict
# leaves /usr readable).
install -o root -g root -m 0755 -d "$dest_dir"
install -o root -g root -m 0644 "$tmp/bundle.pem" "$dest_dir/$BUNDLE_NAME"
install -o root -g root -m 0644 "$tmp/bundle.pem.sha256" "$dest_dir/$BUNDLE_NAME.sha256"
(cd "$dest_dir" && sha256sum --check --strict --quiet "$BUNDLE_NAME.sha256") ||
    die "$dest_dir/$BUNDLE_NAME does not match the checksum just written"

pinned="not pinned"
[[ -n "$RDS_CA_BUNDLE_SHA256" ]] && pinned="matches the pin"
echo "install-rds-ca: installed $dest_dir/$BUNDLE_NAME from $RDS_CA_BUNDLE_URL: $count certificates ($expired expired), sha256 $actual ($pinned)"
