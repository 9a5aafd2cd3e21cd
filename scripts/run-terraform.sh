#!/usr/bin/env bash
# Plans, or plans and applies, one environment the way .github/workflows/terraform.yml does:
#   scripts/run-terraform.sh plan ENV     init with the S3 backend, plan to a file, show it
#   scripts/run-terraform.sh apply ENV    the same, then apply exactly that plan
# The plan file and its text (plan.txt, the workflow's artifact) go to .tmp/terraform-ci/ENV/.
#
# Inputs (environment):
#   TF_STATE_BUCKET  required: the state bucket (terraform/bootstrap's state_bucket output)
#   AWS_REGION       required: the region of the bucket and of the environment
#   TFVARS           optional: the environment's variables in tfvars syntax (the repository
#                    variable TFVARS_DEV / TFVARS_PROD), written to a var file for the plan
#   credentials      as the AWS provider takes them (the workflow assumes a role by OIDC)
# Exit codes: 0 done, 1 a terraform command failed, 2 usage.
set -o errexit -o nounset -o pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    printf 'run-terraform: error: %s\nusage: scripts/run-terraform.sh plan|apply ENV\n' "$*" >&2
    exit 2
}

(($# == 2)) || usage "expected 2 arguments, got $#"
mode=$1
env_name=$2
[[ "$mode" == plan || "$mode" == apply ]] || usage "the mode is plan or apply, not '$mode'"
[[ "$env_name" =~ ^[a-z][a-z0-9]{0,9}$ && -d "$repo_root/terraform/envs/$env_name" ]] ||
    usage "no environment terraform/envs/$env_name"
[[ -n "${TF_STATE_BUCKET:-}" ]] || usage "TF_STATE_BUCKET is not set (the repository variable from terraform/bootstrap)"
[[ -n "${AWS_REGION:-}" ]] || usage "AWS_REGION is not set"
command -v terraform >/dev/null || usage "terraform is not installed"

dir="$repo_root/terraform/envs/$env_name"
out="$repo_root/.tmp/terraform-ci/$env_name"
rm -rf "$out"
mkdir -p "$out"
var_args=()
if [[ -n "${TFVARS:-}" ]]; then
    printf '%s\n' "$TFVARS" >"$out/ci.tfvars"
    var_args=(-var-file="$out/ci.tfvars")
fi
export TF_IN_AUTOMATION=1 TF_INPUT=0

terraform -chdir="$dir" init -input=false -no-color \
    -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="region=$AWS_REGION"
terraform -chdir="$dir" plan -input=false -no-color -lock-timeout=10m "${var_args[@]}" -out="$out/tfplan"
terraform -chdir="$dir" show -no-color "$out/tfplan" >"$out/plan.txt"
echo "run-terraform: plan of $env_name in ${out#"$repo_root/"}/plan.txt"
if [[ "$mode" == apply ]]; then
    terraform -chdir="$dir" apply -input=false -no-color -lock-timeout=10m "$out/tfplan"
fi
