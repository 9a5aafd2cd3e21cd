#!/usr/bin/env bash
# Create (or refresh) the project virtualenv at <repo>/.venv from the pinned
# requirements-dev.txt. Idempotent: a stamp file holding the hash of the
# requirements file makes a second run return in well under a second.
#
# Inputs (environment, all optional):
#   PYTHON        python interpreter to build the venv with (default: python3)
#   VENV_DIR      where the venv goes (default: <repo>/.venv)
#   PIP_FIND_LINKS, PIP_INDEX_URL ... are honoured by pip as usual.
set -o errexit -o nounset -o pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python_bin="${PYTHON:-python3}"
venv_dir="${VENV_DIR:-${repo_root}/.venv}"
requirements="${repo_root}/requirements-dev.txt"
stamp="${venv_dir}/.requirements-dev.sha256"

if ! command -v "${python_bin}" >/dev/null 2>&1; then
  echo "install-python-tools: '${python_bin}' not found; install Python 3.9+ or set PYTHON" >&2
  exit 1
fi
if [[ ! -f "${requirements}" ]]; then
  echo "install-python-tools: ${requirements} is missing" >&2
  exit 1
fi

wanted_hash="$(sha256sum "${requirements}" | cut -d' ' -f1)"
if [[ -x "${venv_dir}/bin/python" && -f "${stamp}" && "$(cat "${stamp}")" == "${wanted_hash}" ]]; then
  echo "install-python-tools: ${venv_dir} is up to date"
  exit 0
fi

if [[ ! -x "${venv_dir}/bin/python" ]]; then
  echo "install-python-tools: creating ${venv_dir}"
  "${python_bin}" -m venv "${venv_dir}"
fi

echo "install-python-tools: installing ${requirements}"
"${venv_dir}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${requirements}"
"${venv_dir}/bin/python" -m pip check
printf '%s\n' "${wanted_hash}" >"${stamp}"
echo "install-python-tools: ${venv_dir} is ready"
