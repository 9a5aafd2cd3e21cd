#!/usr/bin/env bash
# Checks a release build before it is published (.github/workflows/release.yml):
#   scripts/verify-release.sh DIST_DIR VERSION COMMIT
# DIST_DIR is packaging/build-release.sh's dist/<target>: its SHA256SUMS must hold for the
# binary, the debug info and itemsd.version.json; the manifest must name VERSION (the tag without
# its v), COMMIT (the tag's commit, not "-dirty"), the directory's target, and a size within its
# budget. Exit codes: 0 verified, 1 a check failed, 2 usage.
set -o errexit -o nounset -o pipefail

usage() {
    printf 'verify-release: error: %s\nusage: scripts/verify-release.sh DIST_DIR VERSION COMMIT\n' "$*" >&2
    exit 2
}
fail() {
    echo "verify-release: FAIL: $*" >&2
    exit 1
}

(($# == 3)) || usage "expected 3 arguments, got $#"
dist=$1
version=$2
commit=$3
[[ -d "$dist" ]] || usage "$dist is not a directory"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || usage "VERSION must be a semantic version, not '$version'"
[[ "$commit" =~ ^[0-9a-f]{40}$ ]] || usage "COMMIT must be a full commit id, not '$commit'"
command -v jq >/dev/null || usage "jq is not installed"

for file in itemsd itemsd.debug itemsd.version.json SHA256SUMS; do
    [[ -f "$dist/$file" ]] || fail "$dist/$file is missing"
done
(cd "$dist" && sha256sum --check --strict --quiet SHA256SUMS) || fail "$dist/SHA256SUMS does not hold"
listed=$(awk '{print $2}' "$dist/SHA256SUMS" | sort | tr '\n' ' ')
[[ "$listed" == "itemsd itemsd.debug itemsd.version.json " ]] || fail "SHA256SUMS lists '$listed', not the three files"

manifest=$dist/itemsd.version.json
check_field() {
    local got
    got=$(jq -r "$1" "$manifest")
    [[ "$got" == "$2" ]] || fail "$manifest: $1 is '$got', expected '$2'"
}
check_field .name itemsd
check_field .version "$version"
check_field .git_commit "$commit"
check_field .target "$(basename "$dist")"
jq -e '.binary_bytes > 0 and .binary_bytes <= .size_budget_bytes' "$manifest" >/dev/null ||
    fail "$manifest: binary_bytes is not within size_budget_bytes"
[[ "$(stat -c %s "$dist/itemsd")" == "$(jq -r .binary_bytes "$manifest")" ]] || fail "itemsd's size is not the manifest's binary_bytes"
echo "verify-release: $dist: itemsd $version ($commit), $(jq -r .target "$manifest"), $(jq -r .binary_bytes "$manifest") bytes: ok"
