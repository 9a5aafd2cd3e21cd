#!/usr/bin/env bash
# Runs every test of the project: shell lint, the workflow lints, the Rust unit and integration tests (each against
# throwaway PostgreSQL clusters and a local AWS emulator the harness starts itself), the deploy
# script against moto and the smoke test through HAProxy,
# schemathesis against docs/openapi.yaml on a live server, the Terraform suite, the systemd
# unit and Packer lints, the static release build, and the boot test of the image recipe in
# systemd-nspawn, and the proof that install-deps sets up a fresh Debian root. Installs what is
# missing first (scripts/install-deps.sh, from scripts/lib/tools.sh). Exits non-zero on the
# first failure.
# (.ci/run adds the full-VM boot under qemu, which takes minutes.)
#
# Inputs (environment): CI (when "true", a missing tool is an error, never a skip).
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
CI=${CI:-false}

step() { printf '\n==> %s\n' "$*"; }

step "installing dependencies"
# Everything scripts/lib/tools.sh lists, the Python venv (moto, the AWS CLI, checkov,
# schemathesis) included; each step below only checks its own tools.
scripts/install-deps.sh

step "shellcheck"
mapfile -t shell_scripts < <(git ls-files '*.sh' .ci/run)
shellcheck -x "${shell_scripts[@]}"

step "GitHub workflows: actionlint, zizmor, check-jsonschema, shellcheck of their steps"
scripts/lint-workflows.sh

step "cargo test"
cargo test --locked --all-targets

step "deploy: scripts/deploy.sh against moto and a refresh stand-in, the smoke test through HAProxy"
ITEMSD_BINARY="${CARGO_TARGET_DIR:-target}/debug/itemsd" scripts/test-deploy.sh

step "API contract (schemathesis against docs/openapi.yaml)"
ITEMSD_BINARY="${CARGO_TARGET_DIR:-target}/debug/itemsd" scripts/test-api-schema.sh

step "terraform"
scripts/test-terraform.sh

step "systemd unit and Packer template"
scripts/lint-units.sh
scripts/lint-ami.sh

step "fresh machine: install-deps in a new Debian root installs every tool the steps need"
scripts/test-fresh-install.sh

step "static release build"
packaging/build-release.sh

step "boot test (systemd-nspawn)"
scripts/test-boot.sh
