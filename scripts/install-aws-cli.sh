#!/usr/bin/env bash
# Installs only the AWS CLI, at the version requirements-dev.txt pins, into a venv: for the deploy
# workflow, which needs it and nothing else of the development tools
# (scripts/install-python-tools.sh installs them all). scripts/deploy.sh finds it in
# <repo>/.venv/bin/aws.
#
# Inputs (environment, optional): VENV_DIR (default <repo>/.venv), PYTHON (default python3).
set -o errexit -o nounset -o pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_dir="${VENV_DIR:-$repo_root/.venv}"
python_bin="${PYTHON:-python3}"

command -v "$python_bin" >/dev/null || {
    echo "install-aws-cli: error: $python_bin not found" >&2
    exit 1
}
pin=$(grep -E '^awscli==[0-9][0-9.]*$' "$repo_root/requirements-dev.txt") || {
    echo "install-aws-cli: error: requirements-dev.txt pins no awscli==<version>" >&2
    exit 1
}
[[ -x "$venv_dir/bin/python" ]] || "$python_bin" -m venv "$venv_dir"
"$venv_dir/bin/python" -m pip install --quiet --disable-pip-version-check "$pin"
"$venv_dir/bin/aws" --version
