#!/usr/bin/env bash
# Test the Terraform of itemsd, offline:
#   1. terraform fmt -check -recursive
#   2. terraform init (provider mirror, no backend) + validate: every module and env
#   3. terraform test (mock_provider "aws", command = plan): every module and env
#   4. checkov --framework terraform --skip-download: zero failed checks
#   5. apply, re-plan and destroy of envs/dev against a local moto server
# plus a check that the Packer template builds the AMI in the region the
# environments deploy to by default (else the AMI lookup finds nothing).
# Step 5 mostly waits on the provider's polling, so it runs in the background
# while steps 1-4 run. The last line is "terraform: N passed, M failed"
# (", K skipped" outside CI when a Python tool is missing); the exit status is
# non-zero when any step failed.
#
# Inputs (environment, all optional):
#   CI                 "true": a missing tool fails its steps instead of skipping them
#   TF_TEST_SKIP_MOTO  "1": leave out step 5 (not allowed under CI=true)
#   TF_PROVIDER_MIRROR passed on to configure-terraform-mirror.sh
# Everything it writes goes to <repo>/.tmp/terraform-test (gitignored).
set -o errexit -o nounset -o pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ci="${CI:-false}"
skip_moto="${TF_TEST_SKIP_MOTO:-0}"
work="${repo_root}/.tmp/terraform-test"
logs="${work}/logs"
venv="${repo_root}/.venv"

if [[ "${ci}" == "true" && "${skip_moto}" == "1" ]]; then
  echo "test-terraform: TF_TEST_SKIP_MOTO=1 is not allowed under CI=true" >&2
  exit 2
fi

passed=0
failed=0
skipped=0
failures=()
last_ok=false
moto_job_pid=""

# Stop what this script started (by pid): the background moto job and its server.
cleanup() {
  local pid
  if [[ -n "${moto_job_pid}" ]] && kill -0 "${moto_job_pid}" 2>/dev/null; then
    kill "${moto_job_pid}" 2>/dev/null || true
  fi
  if [[ -f "${work}/moto-server.pid" ]]; then
    pid="$(cat "${work}/moto-server.pid")"
    if [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null; then
      kill "${pid}" 2>/dev/null || true
    fi
  fi
}
trap cleanup EXIT

# run_step NAME COMMAND...: run a command with its output in logs/NAME.log.
run_step() {
  local name="$1"
  shift
  local log="${logs}/${name//[ \/]/_}.log"
  local start end
  start="$(date +%s)"
  if "$@" >"${log}" 2>&1; then
    end="$(date +%s)"
    passed=$((passed + 1))
    last_ok=true
    printf '  ok    %-40s %4ss\n' "${name}" "$((end - start))"
  else
    end="$(date +%s)"
    failed=$((failed + 1))
    last_ok=false
    failures+=("${name}")
    printf '  FAIL  %-40s %4ss  (log: %s)\n' "${name}" "$((end - start))" "${log#"${repo_root}/"}"
    tail -n 40 "${log}" | sed 's/^/        | /'
  fi
}

# missing_tool NAME REASON STEPS: a tool is missing; fail under CI, skip otherwise.
missing_tool() {
  local name="$1" reason="$2" steps="$3"
  if [[ "${ci}" == "true" ]]; then
    failed=$((failed + steps))
    failures+=("${name} (${reason})")
    printf '  FAIL  %-40s missing tool: %s\n' "${name}" "${reason}"
  else
    skipped=$((skipped + steps))
    printf '  SKIP  %-40s missing tool: %s\n' "${name}" "${reason}"
  fi
}

summary() {
  echo
  if ((${#failures[@]} > 0)); then
    echo "failed steps: ${failures[*]}"
  fi
  if ((skipped > 0)); then
    echo "terraform: ${passed} passed, ${failed} failed, ${skipped} skipped"
  else
    echo "terraform: ${passed} passed, ${failed} failed"
  fi
  ((failed == 0))
}

# --- set up -------------------------------------------------------------------

if ! command -v terraform >/dev/null 2>&1; then
  echo "test-terraform: terraform is not installed (https://developer.hashicorp.com/terraform/install)" >&2
  failed=1
  failures+=("terraform (not installed)")
  summary || true
  exit 1
fi

rm -rf "${work}"
mkdir -p "${logs}"

TF_CLI_CONFIG_FILE="$("${repo_root}/scripts/configure-terraform-mirror.sh")"
export TF_CLI_CONFIG_FILE
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

# Work on a copy so that init's .terraform/ and lock files stay out of the tree.
cp -R "${repo_root}/terraform" "${work}/terraform"
find "${work}/terraform" \( -name .terraform -o -name .terraform.lock.hcl -o -name 'terraform.tfstate*' \) -prune -exec rm -rf {} +

roots=(modules/network modules/security modules/database modules/compute modules/iam modules/monitoring modules/ssm modules/waf modules/github-oidc envs/dev envs/prod bootstrap)

echo "terraform $(terraform version -json | python3 -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])'), CLI config ${TF_CLI_CONFIG_FILE#"${repo_root}/"}"

python_ok=true
if ! "${repo_root}/scripts/install-python-tools.sh" >"${logs}/install-python-tools.log" 2>&1; then
  python_ok=false
  tail -n 20 "${logs}/install-python-tools.log" | sed 's/^/        | /'
fi

# --- 5. (background) apply / re-plan / destroy against moto --------------------

moto_dir="${work}/moto/envs/dev"
moto_url=""

start_moto() {
  local port pid i
  port="$("${venv}/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  moto_url="http://127.0.0.1:${port}"
  # Managed policies (AmazonSSMManagedInstanceCore, ...) exist in moto only on request.
  MOTO_IAM_LOAD_MANAGED_POLICIES=true "${venv}/bin/moto_server" -H 127.0.0.1 -p "${port}" \
    >"${logs}/moto-server.log" 2>&1 &
  pid=$!
  echo "${pid}" >"${work}/moto-server.pid"
  for i in $(seq 1 100); do
    if "${venv}/bin/python" -c "import urllib.request; urllib.request.urlopen('${moto_url}/moto-api/data.json', timeout=1)" 2>/dev/null; then
      echo "moto server ${moto_url} (pid ${pid}) ready after ${i} tries"
      return 0
    fi
    sleep 0.2
  done
  echo "moto server did not start" >&2
  return 1
}

prepare_moto_root() {
  # envs/dev as it is, plus an override file that points the provider at moto.
  mkdir -p "${moto_dir}"
  ln -s "${work}/terraform/modules" "${work}/moto/modules"
  cp "${repo_root}/terraform/envs/dev/"*.tf "${moto_dir}/"
  cp "${repo_root}/terraform/tests/moto/"*.tf "${moto_dir}/"
  local ami
  ami="$(AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "${venv}/bin/python" - "${moto_url}" <<'PY'
import sys, boto3
ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=sys.argv[1])
images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "architecture", "Values": ["x86_64"]}])["Images"]
print(sorted(i["ImageId"] for i in images)[0])
PY
)"
  cat >"${moto_dir}/moto.auto.tfvars" <<TFVARS
moto_endpoint            = "${moto_url}"
instance_refresh_enabled = false # moto has no StartInstanceRefresh
budget_limit_usd         = 0     # moto has no DescribeSubscribersForNotification
ami_id                   = "${ami}"
availability_zones       = ["us-east-1a", "us-east-1b"]
alarm_emails             = ["oncall@example.com"]
enable_waf               = true  # off in dev; moto implements wafv2, so the run covers the module
TFVARS
  cat "${moto_dir}/moto.auto.tfvars"
  # The override file swaps envs/dev's S3 backend for a local one, which init sets up offline
  # (every other step skips the backend with -backend=false).
  terraform -chdir="${moto_dir}" init -input=false -no-color
}

moto_apply() {
  terraform -chdir="${moto_dir}" apply -auto-approve -input=false -no-color &&
    terraform -chdir="${moto_dir}" output -no-color &&
    check_db_user_arn
}

# The rds-db:connect resource is built from the instance's DbiResourceId, which
# only the apply learns: an empty one would leave "dbuser:/itemsd_app".
check_db_user_arn() {
  local arn
  arn="$(terraform -chdir="${moto_dir}" output -raw db_user_arn)"
  if [[ "${arn}" =~ ^arn:aws:rds-db:us-east-1:[0-9]{12}:dbuser:db-[A-Z0-9]+/itemsd_app$ ]]; then
    echo "rds-db:connect resource: ${arn}"
  else
    echo "rds-db:connect resource is not one user of one instance: '${arn}'" >&2
    return 1
  fi
}

# A second plan must create, replace and delete nothing. moto drops a few
# attributes (rule descriptions, parameter lists, warmup), which shows as
# in-place updates: those are listed, not counted as failures.
moto_replan() {
  terraform -chdir="${moto_dir}" plan -input=false -no-color -out="${work}/moto-replan.tfplan" >/dev/null
  terraform -chdir="${moto_dir}" show -json "${work}/moto-replan.tfplan" >"${work}/moto-replan.json"
  "${venv}/bin/python" - "${work}/moto-replan.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
bad, drift = [], []
for rc in plan.get("resource_changes", []):
    actions = rc["change"]["actions"]
    if actions in (["no-op"], ["read"]):
        continue
    (drift if actions == ["update"] else bad).append(f'{rc["address"]}: {"/".join(actions)}')
for d in drift:
    print("emulator drift (in-place):", d)
for b in bad:
    print("NOT IDEMPOTENT:", b)
print(f"re-plan: {len(bad)} creates/replaces/deletes, {len(drift)} in-place updates")
sys.exit(1 if bad else 0)
PY
}

moto_destroy() {
  terraform -chdir="${moto_dir}" destroy -auto-approve -input=false -no-color
}

# Runs in a subshell: prints its step lines and writes its counts to a file.
moto_job() {
  passed=0
  failed=0
  failures=()
  run_step "moto start" start_moto
  if [[ "${last_ok}" == "true" ]]; then
    run_step "moto prepare envs/dev" prepare_moto_root
  fi
  if [[ "${last_ok}" == "true" ]]; then
    run_step "moto apply envs/dev" moto_apply
    # Re-plan only after a clean apply; destroy whatever was created either way.
    if [[ "${last_ok}" == "true" ]]; then
      run_step "moto re-plan envs/dev" moto_replan
    else
      failed=$((failed + 1))
      failures+=("moto-re-plan(apply-failed)")
    fi
    run_step "moto destroy envs/dev" moto_destroy
  else
    failed=$((failed + 3))
    failures+=("moto-apply/re-plan/destroy(not-run)")
  fi
  if [[ -f "${work}/moto-server.pid" ]]; then
    kill "$(cat "${work}/moto-server.pid")" 2>/dev/null || true
    rm -f "${work}/moto-server.pid"
  fi
  echo "${passed} ${failed} ${failures[*]}" >"${work}/moto-counts"
}

moto_state="none"
if [[ "${skip_moto}" == "1" ]]; then
  moto_state="skipped"
elif [[ "${python_ok}" == "true" && -x "${venv}/bin/moto_server" ]]; then
  moto_job >"${work}/moto-steps.txt" 2>&1 &
  moto_job_pid=$!
  moto_state="running"
fi

# --- 1. format ------------------------------------------------------------------

run_step "fmt" terraform -chdir="${repo_root}" fmt -check -recursive -diff terraform

# The AMI is looked up by tags in the provider's region: the Packer template's
# default region must be the environments' default region.
check_region_defaults() {
  python3 - "${repo_root}/ami/itemsd.pkr.hcl" "${repo_root}/terraform/envs/dev/variables.tf" "${repo_root}/terraform/envs/prod/variables.tf" <<'PY'
import re, sys
def region_default(path):
    text = open(path).read()
    block = re.search(r'variable\s+"region"\s*\{(.*?)\n\}', text, re.S)
    if not block:
        sys.exit(f'{path}: no variable "region"')
    default = re.search(r'^\s*default\s*=\s*"([^"]+)"', block.group(1), re.M)
    if not default:
        sys.exit(f'{path}: variable "region" has no string default')
    return default.group(1)
found = {path: region_default(path) for path in sys.argv[1:]}
for path, region in found.items():
    print(f"{region}  {path}")
if len(set(found.values())) != 1:
    sys.exit("region defaults disagree: the Terraform AMI lookup would find no AMI")
PY
}
run_step "region defaults agree" check_region_defaults

# --- 2. init + validate ---------------------------------------------------------

init_validate() {
  local dir="$1"
  terraform -chdir="${dir}" init -backend=false -input=false -no-color &&
    terraform -chdir="${dir}" validate -no-color
}
for r in "${roots[@]}"; do
  run_step "validate ${r}" init_validate "${work}/terraform/${r}"
done

# --- 3. terraform test ----------------------------------------------------------

for r in "${roots[@]}"; do
  if compgen -G "${work}/terraform/${r}/tests/*.tftest.hcl" >/dev/null; then
    run_step "test ${r}" terraform -chdir="${work}/terraform/${r}" test -no-color
  else
    run_step "test ${r}" sh -c "echo 'no tests in terraform/${r}/tests' >&2; exit 1"
  fi
done

# --- 4. checkov ------------------------------------------------------------------

run_checkov() {
  local report="${work}/checkov.json"
  "${venv}/bin/checkov" -d "${repo_root}/terraform" --framework terraform --skip-download \
    --quiet --compact -o cli -o json --output-file-path "console,${report}" || true
  "${venv}/bin/python" - "${report}" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    data = json.load(f)
reports = data if isinstance(data, list) else [data]
totals = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0}
for r in reports:
    s = r.get("summary", {})
    for k in totals:
        totals[k] += int(s.get(k, 0))
print("checkov: {passed} passed, {failed} failed, {skipped} skipped, {parsing_errors} parsing errors".format(**totals))
sys.exit(0 if totals["failed"] == 0 and totals["parsing_errors"] == 0 and totals["passed"] > 0 else 1)
PY
}

if [[ "${python_ok}" == "true" && -x "${venv}/bin/checkov" ]]; then
  run_step "checkov" run_checkov
  grep -h '^checkov:' "${logs}/checkov.log" | sed 's/^/        /' || true
else
  missing_tool "checkov" "venv could not be built (see ${logs#"${repo_root}/"}/install-python-tools.log)" 1
fi

# --- 5. collect the moto job ------------------------------------------------------

case "${moto_state}" in
  skipped)
    skipped=$((skipped + 4))
    printf '  SKIP  %-40s TF_TEST_SKIP_MOTO=1\n' "moto"
    ;;
  running)
    wait "${moto_job_pid}" || true
    moto_job_pid=""
    cat "${work}/moto-steps.txt"
    if [[ -f "${work}/moto-counts" ]]; then
      read -r moto_passed moto_failed moto_failures <"${work}/moto-counts" || true
      passed=$((passed + moto_passed))
      failed=$((failed + moto_failed))
      if [[ -n "${moto_failures:-}" ]]; then
        failures+=("${moto_failures}")
      fi
    else
      failed=$((failed + 1))
      failures+=("moto (the background job died; see ${work#"${repo_root}/"}/moto-steps.txt)")
    fi
    ;;
  *)
    missing_tool "moto" "venv could not be built (see ${logs#"${repo_root}/"}/install-python-tools.log)" 4
    ;;
esac

summary
