#!/usr/bin/env bash
# Lints the Packer template offline with Debian's packer (1.6.6, amazon builder built in):
# `packer fmt -check`, then `packer validate` of everything but ami/plugins.pkr.hcl (1.6.6
# rejects the required_plugins block). 1.6.6 also predates two settings the template needs,
# metadata_options (IMDSv2 on the build instance) and imds_support (IMDSv2-only AMI): they are
# checked here by pattern in every source, then stripped from a temporary copy that is
# validated. validate checks that file provisioners' sources exist, so it runs against stub
# binaries in a temporary dist directory: no build needed. Also shellchecks ami/scripts.
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
require_tools lint-ami packer shellcheck

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
if output=$(packer validate -var version=0.0.0-lint -var git_commit=0000000 \
    -var 'ssh_source_cidrs=["192.0.2.1/32"]' -var "dist_dir=$tmp/dist" "$tmp/template" 2>&1); then
    echo "ok   packer validate $template (without $AMI_DIR/plugins.pkr.hcl, metadata_options, imds_support)"
else
    printf '%s\n' "$output" >&2
    fail "packer validate $template"
fi

if shellcheck -x "$AMI_DIR"/scripts/*.sh; then
    echo "ok   shellcheck $AMI_DIR/scripts/*.sh"
else
    fail "shellcheck $AMI_DIR/scripts/*.sh"
fi

if ((failed)); then
    echo "lint-ami: FAILED" >&2
    exit 1
fi
echo "lint-ami: ok"
