#!/usr/bin/env bash
# Lints the Packer template offline with Debian's packer (1.6.6, amazon builder built in):
# `packer fmt -check`, then `packer validate` of everything but ami/plugins.pkr.hcl (1.6.6
# rejects the required_plugins block). 1.6.6 also predates two settings the template needs,
# metadata_options (IMDSv2 on the build instance) and imds_support (IMDSv2-only AMI): they are
# checked here by pattern in every source, then stripped from a temporary copy that is
# validated. validate checks that file provisioners' sources exist, so it runs against stub
# binaries in a temporary dist directory: no build needed; it must also reject a non-https
# rds_ca_bundle_url and a malformed rds_ca_bundle_sha256. Also shellchecks ami/scripts, and runs
# ami/scripts/install-rds-ca.sh (into a temporary RDS_CA_ROOT, against file:// bundles made with
# openssl: a good one, a pinned one, a mismatched pin, a non-PEM file, an http URL) and
# ami/scripts/record-rds-ca-sha256.sh (against a made-up manifest). install-rds-ca.sh needs
# root (it chowns to root): without it those cases run under `unshare --map-root-user`, or are
# skipped, saying so.
#
# Env: AMI_DIR (default ami).
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
AMI_DIR=${AMI_DIR:-ami}

die() {
    echo "lint-ami: error: $*" >&2
    exit 1
}

[[ -f "$AMI_DIR/itemsd.pkr.hcl" && -f "$AMI_DIR/plugins.pkr.hcl" ]] || die "AMI_DIR=$AMI_DIR lacks itemsd.pkr.hcl or plugins.pkr.hcl"
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh
require_tools lint-ami packer shellcheck openssl curl jq

failed=0
fail() {
    echo "FAIL $*" >&2
    failed=1
}

if packer fmt -check -diff "$AMI_DIR" >/dev/null; then
    echo "ok   packer fmt -check $AMI_DIR"
else
    packer fmt -check -diff "$AMI_DIR" >&2 || true
    fail "packer fmt -check $AMI_DIR (run: packer fmt $AMI_DIR)"
fi

# Settings 1.6.6 cannot validate: each must appear once per source.
template=$AMI_DIR/itemsd.pkr.hcl
sources=$(grep -c '^source "amazon-ebs"' "$template" || true)
for pattern in 'http_tokens *= *"required"' 'imds_support *= *"v2.0"' 'encrypted *= *true' 'encrypt_boot *= *true'; do
    count=$(grep -cE "^ *$pattern" "$template" || true)
    if ((count == sources)); then
        echo "ok   $pattern in all $sources sources"
    else
        fail "$pattern appears $count times for $sources sources in $template"
    fi
done
grep -q 'required_plugins' "$AMI_DIR/plugins.pkr.hcl" || fail "$AMI_DIR/plugins.pkr.hcl has no required_plugins block"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/template"
for file in "$AMI_DIR"/*.pkr.hcl; do
    [[ "$(basename "$file")" == plugins.pkr.hcl ]] && continue
    # Drop the metadata_options { ... } blocks and imds_support lines (see above).
    awk '
        /^ *metadata_options *\{/ { skipping = 1; next }
        skipping && /^ *\}/ { skipping = 0; next }
        skipping { next }
        /^ *imds_support *=/ { next }
        { print }
    ' "$file" >"$tmp/template/$(basename "$file")"
done
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
    mkdir -p "$tmp/dist/$target"
    printf 'stub\n' >"$tmp/dist/$target/itemsd"
done
validate() {
    packer validate -var version=0.0.0-lint -var git_commit=0000000 \
        -var 'ssh_source_cidrs=["192.0.2.1/32"]' -var "dist_dir=$tmp/dist" "$@" "$tmp/template" 2>&1
}
if output=$(validate); then
    echo "ok   packer validate $template (without $AMI_DIR/plugins.pkr.hcl, metadata_options, imds_support)"
else
    printf '%s\n' "$output" >&2
    fail "packer validate $template"
fi
good_sha256=$(printf 'rds' | sha256sum | cut -d' ' -f1)
if output=$(validate -var "rds_ca_bundle_sha256=$good_sha256"); then
    echo "ok   packer validate accepts a pinned rds_ca_bundle_sha256"
else
    printf '%s\n' "$output" >&2
    fail "packer validate rejects rds_ca_bundle_sha256=$good_sha256"
fi
for bad in "rds_ca_bundle_url=http://truststore.pki.rds.amazonaws.com/global/global-bundle.pem" \
    "rds_ca_bundle_sha256=${good_sha256^^}" "rds_ca_bundle_sha256=${good_sha256:1}"; do
    if validate -var "$bad" >/dev/null; then
        fail "packer validate accepts -var $bad"
    else
        echo "ok   packer validate rejects -var ${bad:0:40}..."
    fi
done

if shellcheck -x "$AMI_DIR"/scripts/*.sh; then
    echo "ok   shellcheck $AMI_DIR/scripts/*.sh"
else
    fail "shellcheck $AMI_DIR/scripts/*.sh"
fi

# --- install-rds-ca.sh, offline --------------------------------------------------------------
as_root=()
if [[ "$(id -u)" != 0 ]]; then
    if unshare --map-root-user true 2>/dev/null; then
        as_root=(unshare --map-root-user)
    else
        as_root=(skip)
    fi
fi
ca=$tmp/rds-ca
mkdir -p "$ca"
for i in 1 2 3; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout /dev/null \
        -subj "/CN=lint-ami test CA $i" -days 2 -out "$ca/ca$i.pem" 2>/dev/null
done
cat "$ca"/ca[123].pem >"$ca/bundle.pem"
bundle_sha256=$(sha256sum "$ca/bundle.pem" | cut -d' ' -f1)
printf '<html><body>503 Service Unavailable</body></html>\n' >"$ca/not-pem.pem"
{ cat "$ca/ca1.pem" && openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 2>/dev/null; } >"$ca/key.pem"
printf '%s  rds-global-bundle.pem\n' "$bundle_sha256" >"$ca/rds-global-bundle.pem.sha256"
# install_ca NAME URL [PIN]: runs install-rds-ca.sh into the fresh root $ca/NAME.
install_ca() {
    mkdir -p "$ca/$1"
    "${as_root[@]}" env RDS_CA_ROOT="$ca/$1" RDS_CA_BUNDLE_URL="$2" RDS_CA_BUNDLE_SHA256="${3:-}" \
        bash "$AMI_DIR/scripts/install-rds-ca.sh" >"$ca/$1.log" 2>&1
}
installed() { [[ -e "$ca/$1/usr/local/share/itemsd/rds-global-bundle.pem" ]]; }
if [[ "${as_root[0]:-}" == skip ]]; then
    echo "skip install-rds-ca.sh cases: not root and no unshare --map-root-user"
else
    dir=$ca/good/usr/local/share/itemsd
    if install_ca good "file://$ca/bundle.pem" && grep -q ': 3 certificates' "$ca/good.log" &&
        cmp -s "$ca/bundle.pem" "$dir/rds-global-bundle.pem" &&
        [[ "$(stat -c '%a' "$dir" "$dir/rds-global-bundle.pem" "$dir/rds-global-bundle.pem.sha256" | tr '\n' ' ')" == "755 644 644 " ]] &&
        [[ "$(<"$dir/rds-global-bundle.pem.sha256")" == "$bundle_sha256  rds-global-bundle.pem" ]]; then
        echo "ok   install-rds-ca.sh installs a 3-certificate file:// bundle, 0644 in 0755, with its sha256"
    else
        cat "$ca/good.log" >&2
        fail "install-rds-ca.sh with a good bundle"
    fi
    if install_ca pinned "file://$ca/bundle.pem" "$bundle_sha256" && installed pinned; then
        echo "ok   install-rds-ca.sh accepts the bundle with its pinned sha256"
    else
        cat "$ca/pinned.log" >&2
        fail "install-rds-ca.sh with a matching pin"
    fi
    # name|url|pin|what its error must say
    for case in "mismatch|file://$ca/bundle.pem|${bundle_sha256//?/0}|not the pinned" \
        "not-pem|file://$ca/not-pem.pem||holds no PEM certificate" \
        "key|file://$ca/key.pem||not a certificate" \
        "http|http://127.0.0.1:9/bundle.pem||must be an https:// URL"; do
        IFS='|' read -r name url pin expect <<<"$case"
        if install_ca "$name" "$url" "$pin"; then
            fail "install-rds-ca.sh succeeded for the $name case"
        elif installed "$name" || ! grep -q "$expect" "$ca/$name.log"; then
            cat "$ca/$name.log" >&2
            fail "install-rds-ca.sh failed for the $name case, but installed something or without '$expect'"
        else
            echo "ok   install-rds-ca.sh refuses the $name case, installing nothing ($expect)"
        fi
    done
fi

# --- record-rds-ca-sha256.sh, against a made-up manifest ----------------------------------------
# Two builds of this run and one of an older run, as the manifest post-processor writes them.
manifest_with_pin() {
    jq -n --arg pin "$1" '{
        builds: [
            {name: "x86_64", packer_run_uuid: "run-2", custom_data: {rds_ca_bundle_sha256_pinned: $pin}},
            {name: "arm64", packer_run_uuid: "run-2", custom_data: {rds_ca_bundle_sha256_pinned: $pin}},
            {name: "x86_64", packer_run_uuid: "run-1", custom_data: {}}
        ],
        last_run_uuid: "run-2"}' >"$ca/manifest.json"
}
record() {
    MANIFEST=$ca/manifest.json SHA256_FILE=$ca/rds-global-bundle.pem.sha256 \
        PACKER_BUILD_NAME=x86_64 PACKER_RUN_UUID=run-2 bash "$AMI_DIR/scripts/record-rds-ca-sha256.sh" >"$ca/record.log" 2>&1
}
manifest_with_pin ""
if record && [[ "$(jq -c '[.builds[].custom_data.rds_ca_bundle_sha256]' "$ca/manifest.json")" == "[\"$bundle_sha256\",null,null]" ]] &&
    [[ ! -e "$ca/manifest.json.lock" ]]; then
    echo "ok   record-rds-ca-sha256.sh records the measured sha256 in this run's x86_64 entry only"
else
    cat "$ca/record.log" "$ca/manifest.json" >&2
    fail "record-rds-ca-sha256.sh did not record the sha256 in the right entry"
fi
manifest_with_pin "${bundle_sha256//?/0}"
if record; then
    fail "record-rds-ca-sha256.sh accepted a measured sha256 differing from the recorded pin"
elif jq -e '.builds[0].custom_data | has("rds_ca_bundle_sha256")' "$ca/manifest.json" >/dev/null; then
    fail "record-rds-ca-sha256.sh failed on a pin mismatch but changed the manifest"
else
    echo "ok   record-rds-ca-sha256.sh refuses a measurement differing from the pin, manifest unchanged"
fi

if ((failed)); then
    echo "lint-ami: FAILED" >&2
    exit 1
fi
echo "lint-ami: ok"
