#!/usr/bin/env bash
# Records the sha256 of the RDS CA bundle baked into an AMI in the Packer manifest, as
# custom_data.rds_ca_bundle_sha256 of this build's entry. Runs on the BUILD HOST, not in the
# image: a shell-local post-processor right after the manifest post-processor (ami/itemsd.pkr.hcl).
#
# Why this way rather than the template's custom_data: custom_data is evaluated when the template
# is read, before the instance exists, so it can only hold what was expected (the optional pin,
# recorded there as rds_ca_bundle_sha256_pinned). The value recorded here is what
# install-rds-ca.sh measured on the build instance from the bytes it installed
# (rds-global-bundle.pem.sha256, downloaded back by a file provisioner): evidence of what the
# image trusts, pinned or not. When a pin was set the two must agree, which is checked again here.
#
# Env:
#   MANIFEST           the manifest post-processor's output (dist/packer-manifest.json)
#   SHA256_FILE        the downloaded rds-global-bundle.pem.sha256 of this build
#   PACKER_BUILD_NAME  set by Packer (x86_64, arm64): the entry's "name"
#   PACKER_RUN_UUID    set by Packer: the entry's "packer_run_uuid"
# Needs jq (docs/shipping.md's build commands use it too).
set -o errexit -o nounset -o pipefail

: "${MANIFEST:?set MANIFEST to the Packer manifest}"
: "${SHA256_FILE:?set SHA256_FILE to the downloaded rds-global-bundle.pem.sha256}"
: "${PACKER_BUILD_NAME:?PACKER_BUILD_NAME unset: run by the shell-local post-processor of Packer}"
: "${PACKER_RUN_UUID:?PACKER_RUN_UUID unset: run by the shell-local post-processor of Packer}"

die() {
    echo "record-rds-ca-sha256: error: $*" >&2
    exit 1
}

command -v jq >/dev/null || die "jq not found (Debian/AL2023 package: jq; Homebrew: jq)"
[[ -f "$MANIFEST" ]] || die "$MANIFEST does not exist: the manifest post-processor must run first"
[[ -f "$SHA256_FILE" ]] || die "$SHA256_FILE does not exist: the file provisioner did not download it"
line=$(<"$SHA256_FILE")
[[ "$line" =~ ^([0-9a-f]{64})\ \ rds-global-bundle\.pem$ ]] ||
    die "$SHA256_FILE is not one sha256sum line for rds-global-bundle.pem: '$line'"
sha256=${BASH_REMATCH[1]}

# Both architectures build in parallel, and their manifest post-processors rewrite the same
# file: take the lock file the manifest post-processor itself takes (MANIFEST.lock, created
# exclusively, removed after), so that neither rewrite loses the other's entry.
lock=$MANIFEST.lock
locked=false
for _ in $(seq 1 50); do
    if (set -o noclobber && : >"$lock") 2>/dev/null; then
        locked=true
        break
    fi
    sleep 0.1
done
$locked || die "$lock stayed locked for 5 s (left over from a killed packer? remove it)"
trap 'rm -f "$lock"' EXIT
tmp=$(mktemp "$MANIFEST.XXXXXX")
trap 'rm -f "$lock" "$tmp"' EXIT

# Exactly one entry of this run and build; a pin recorded there must equal the measurement
# (install-rds-ca.sh already refused a mismatch on the instance).
jq --arg run "$PACKER_RUN_UUID" --arg name "$PACKER_BUILD_NAME" --arg sha256 "$sha256" '
    def mine: .packer_run_uuid == $run and .name == $name;
    if ([.builds[] | select(mine)] | length) != 1 then
        error("no single entry with packer_run_uuid \($run) and name \($name)")
    elif ([.builds[] | select(mine) | .custom_data.rds_ca_bundle_sha256_pinned // ""]
          | .[0] | . != "" and . != $sha256) then
        error("the pinned rds_ca_bundle_sha256_pinned differs from the installed \($sha256)")
    else
        .builds |= map(if mine then .custom_data.rds_ca_bundle_sha256 = $sha256 else . end)
    end
' "$MANIFEST" >"$tmp" || die "could not record the checksum in $MANIFEST"
# Replaced, not rewritten in place: an interrupted run leaves the old manifest whole.
chmod 0644 "$tmp"
mv "$tmp" "$MANIFEST"
echo "record-rds-ca-sha256: $MANIFEST: build $PACKER_BUILD_NAME: rds_ca_bundle_sha256 $sha256"
