#!/usr/bin/env bash
# Tests scripts/deploy.sh and scripts/smoke-test.sh offline.
#
# deploy.sh runs, unchanged, against moto's server for every call moto has, with
# scripts/lib/refresh_standin.py in front of moto for the four instance-refresh calls moto lacks
# (it speaks their query protocol and walks each refresh through a real refresh's states). The
# environment "test" is made in moto the way the Terraform makes it: a launch template with tags
# Application/Environment, a group on version 1 of it behind a target group and an ALB, itemsd
# AMIs tagged as ami/itemsd.pkr.hcl tags them, and the SSM parameter modules/compute writes.
# Each case checks deploy.sh's exit code (its documented one) and its message:
#   success (0, the group then on the new version, progress lines), a refresh already running
#   (4, nothing changed), an alarm that rolls the refresh back (7), a rollback that fails (8), a
#   failed refresh (5), a cancelled one (6), a timeout (9, rollback requested), an arm64 AMI for
#   an x86_64 group (3), bad arguments (2);
# and that deploy.sh called nothing the deploy role does not grant
# (terraform/modules/github-oidc/deploy-actions.json, the file the role's policy is built from).
#
# The smoke test runs against two real itemsd processes on a throwaway TLS-only PostgreSQL
# (verify-full), behind HAProxy health-checking /health as the ALB does: it must pass, report
# both instances and their version, and fail when another version is expected.
#
# The last line is "test-deploy: N passed, M failed". About 60 s.
#
# Inputs (environment):
#   ITEMSD_BINARY  the itemsd executable (default ${CARGO_TARGET_DIR:-target}/debug/itemsd)
#   VENV_DIR       the venv with moto and the AWS CLI (default <repo>/.venv)
# Logs stay in <repo>/.tmp/test-deploy.
set -o errexit -o nounset -o pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh
# shellcheck source=scripts/lib/checks.sh
source scripts/lib/checks.sh

itemsd_binary="${ITEMSD_BINARY:-${CARGO_TARGET_DIR:-target}/debug/itemsd}"
venv_dir="${VENV_DIR:-$repo_root/.venv}"
work="$repo_root/.tmp/test-deploy"
python="$venv_dir/bin/python"
readonly NEW_VERSION=0.2.0

fail() {
    echo "test-deploy: error: $*" >&2
    exit 1
}

require_tools test-deploy haproxy initdb pg_ctl psql runuser openssl curl jq python3
[[ -x "$itemsd_binary" ]] || fail "ITEMSD_BINARY=$itemsd_binary is not an executable (cargo build, or set ITEMSD_BINARY)"
for tool in python moto_server aws; do
    [[ -x "$venv_dir/bin/$tool" ]] || fail "$venv_dir/bin/$tool missing: run scripts/install-python-tools.sh"
done

pids=()
pg_dir=""
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$pg_dir" ]]; then
        stop_cluster "$pg_dir"
        rm -rf "$pg_dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for WHAT CMD...: CMD succeeds within 20 s.
wait_for() {
    local what=$1
    shift
    for _ in $(seq 200); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "$what did not come up within 20 s (logs in $work)"
}

rm -rf "$work"
mkdir -p "$work"
start=$SECONDS

# --- moto and the stand-in ---------------------------------------------------------------
moto_port=$(free_port)
"$venv_dir/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
moto_url="http://127.0.0.1:$moto_port"
wait_for "moto" curl -fsS "$moto_url/moto-api/data.json"
"$python" scripts/lib/refresh_standin.py --upstream "$moto_url" --port-file "$work/standin.port" \
    --calls "$work/calls.jsonl" >"$work/standin.log" 2>&1 &
pids+=($!)
wait_for "the refresh stand-in" test -s "$work/standin.port"
standin_url="http://127.0.0.1:$(cat "$work/standin.port")"

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=eu-north-1 AWS_DEFAULT_REGION=eu-north-1
export AWS_CLI="$venv_dir/bin/aws" AWS_PAGER=""
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CA_BUNDLE

# The environment "test" as the Terraform leaves it, made directly in moto.
AWS_ENDPOINT_URL=$moto_url "$python" - "$NEW_VERSION" >"$work/env.json" <<'PY'
import json, sys, boto3
ec2, asg, elb, ssm = (boto3.client(s) for s in ("ec2", "autoscaling", "elbv2", "ssm"))
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"eu-north-1{z}")["Subnet"]["SubnetId"]
           for i, z in ((1, "a"), (2, "b"))]

def itemsd_ami(arch, version):
    # An image of the architecture, the way Packer makes one: from an instance, then tagged.
    base = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "architecture", "Values": [arch]}])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1, SubnetId=subnets[0])["Instances"][0]["InstanceId"]
    ami = ec2.create_image(InstanceId=instance, Name=f"itemsd-{version}-{arch}")["ImageId"]
    ec2.terminate_instances(InstanceIds=[instance])
    ec2.create_tags(Resources=[ami], Tags=[{"Key": "Application", "Value": "itemsd"}, {"Key": "Version", "Value": version},
                                           {"Key": "Architecture", "Value": arch}])
    return ami

old = itemsd_ami("x86_64", "0.1.0")
tags = [{"Key": "Application", "Value": "itemsd"}, {"Key": "Environment", "Value": "test"}]
lt = ec2.create_launch_template(
    LaunchTemplateName="itemsd-test-20240101", VersionDescription="itemsd test",
    LaunchTemplateData={"ImageId": old, "InstanceType": "t3.micro",
                        "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}]},
    TagSpecifications=[{"ResourceType": "launch-template", "Tags": tags}])["LaunchTemplate"]["LaunchTemplateId"]
tg = elb.create_target_group(Name="itemsd-test-tg", Protocol="HTTP", Port=5001, VpcId=vpc,
                             HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
lb = elb.create_load_balancer(Name="itemsd-test-alb", Subnets=subnets)["LoadBalancers"][0]
elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                    DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
asg.create_auto_scaling_group(AutoScalingGroupName="itemsd-test", MinSize=2, MaxSize=3, DesiredCapacity=2,
                              LaunchTemplate={"LaunchTemplateId": lt, "Version": "1"},
                              VPCZoneIdentifier=",".join(subnets), TargetGroupARNs=[tg])
ssm.put_parameter(Name="/itemsd-test/instance-refresh", Type="String", Value=json.dumps({
    "AutoScalingGroupName": "itemsd-test", "Strategy": "Rolling",
    "Preferences": {"MinHealthyPercentage": 90, "MaxHealthyPercentage": 110, "InstanceWarmup": 60,
                    "AutoRollback": True, "SkipMatching": False,
                    "AlarmSpecification": {"Alarms": ["itemsd-test-target-5xx", "itemsd-test-unhealthy-hosts"]}}}))
new = [itemsd_ami("x86_64", sys.argv[1]) for _ in range(2)]
print(json.dumps({"old": old, "new": new, "arm": itemsd_ami("arm64", sys.argv[1]), "lt": lt,
                  "dns": lb["DNSName"]}))
PY
jq -c . "$work/env.json"
env_value() { jq -r "$1" "$work/env.json"; }
template_id=$(env_value .lt)

export AWS_ENDPOINT_URL=$standin_url

# group_version: the launch template version the group uses, as moto holds it.
group_version() {
    "$AWS_CLI" autoscaling describe-auto-scaling-groups --auto-scaling-group-names itemsd-test \
        --query 'AutoScalingGroups[0].LaunchTemplate.Version' --output text
}
latest_version() {
    "$AWS_CLI" ec2 describe-launch-templates --launch-template-ids "$template_id" \
        --query 'LaunchTemplates[0].LatestVersionNumber' --output text
}
next_refresh() { curl -fsS -X POST --data "{\"script\":\"$1\"}" "$standin_url/_standin/next-refresh" >/dev/null; }

# deploy NAME AMI [VAR=VALUE...]: runs deploy.sh for environment "test"; sets status and leaves
# its output in $work/NAME.out.
deploy() {
    local name=$1 ami=$2
    shift 2
    status=0
    env DEPLOY_POLL_SECONDS=0.1 DEPLOY_TIMEOUT_SECONDS=60 "$@" scripts/deploy.sh test "$ami" >"$work/$name.out" 2>&1 || status=$?
    sed 's/^/    | /' "$work/$name.out"
}
# exited NAME CODE PATTERN: the run NAME exited CODE and said PATTERN (grep -E).
exited() {
    [[ "$status" == "$2" ]] || {
        echo "    $1: exit $status, expected $2" >&2
        return 1
    }
    grep -qE -- "$3" "$work/$1.out" || {
        echo "    $1: no line matching /$3/" >&2
        return 1
    }
}

# --- deploy.sh ---------------------------------------------------------------------------
# The cases after the first leave the group on the first one's AMI, so they share one new AMI.
echo "test-deploy: moto and the environment ready after $((SECONDS - start)) s"
echo "test-deploy: deploy.sh against moto $moto_url through the stand-in $standin_url"

: >"$work/calls.jsonl"
next_refresh success
new_ami=$(env_value '.new[0]')
deploy success "$new_ami" DEPLOY_RESULT_FILE="$work/result.env"
check "success: exit 0 with the refresh's progress (InProgress 50 %)" \
    exited success 0 'refresh .*: InProgress, 50 % complete, 1 instance\(s\) to update'
check "success: progress went through Pending to Successful" \
    bash -c "grep -q ': Pending, 0 %' '$work/success.out' && grep -q ': Successful, 100 %' '$work/success.out'"
check "success: the group is on launch template version 2 (the desired configuration)" \
    test "$(group_version)" = 2
check "success: the result names the AMI, version $NEW_VERSION and the ALB" \
    grep -qx "alb_dns_name=$(env_value .dns)" "$work/result.env"
check "success: the refresh carried the Terraform's preferences and the alarms" \
    grep -q '"AlarmSpecification":{"Alarms":\["itemsd-test-target-5xx","itemsd-test-unhealthy-hosts"\]}' "$work/success.out"

# Every call deploy.sh made is granted to the deploy role, and nothing granted goes unused
# except what AWS checks on the caller's behalf (RunInstances, CreateTags, PassRole).
calls_are_granted() {
    "$python" - "$work/calls.jsonl" terraform/modules/github-oidc/deploy-actions.json <<'PY'
import json, sys
prefix = {"elasticloadbalancing": "elasticloadbalancing", "ec2": "ec2", "autoscaling": "autoscaling", "ssm": "ssm"}
made = {f"{prefix.get(c['service'], c['service'])}:{c['action']}" for c in map(json.loads, open(sys.argv[1]))}
granted = {a for actions in json.load(open(sys.argv[2])).values() for a in actions}
implicit = {"ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"}
print("    calls made:", " ".join(sorted(made)))
missing, unused = made - granted, granted - made - implicit
if missing:
    print("    not granted:", " ".join(sorted(missing)), file=sys.stderr)
if unused - {"autoscaling:RollbackInstanceRefresh"}:
    print("    granted but never called:", " ".join(sorted(unused)), file=sys.stderr)
sys.exit(1 if missing or (unused - {"autoscaling:RollbackInstanceRefresh"}) else 0)
PY
}
check "success: every call is in deploy-actions.json, and each grant is used" calls_are_granted

before=$(latest_version)
next_refresh hold
"$AWS_CLI" autoscaling start-instance-refresh --auto-scaling-group-name itemsd-test \
    --preferences '{"MinHealthyPercentage":90}' >"$work/other-refresh.json"
deploy busy "$(env_value '.new[1]')"
check "a refresh already running: exit 4, refused, naming it" exited busy 4 'another instance refresh of itemsd-test is active: .* is (Pending|InProgress)'
check "a refresh already running: no launch template version was made" test "$(latest_version)" = "$before"
"$AWS_CLI" autoscaling cancel-instance-refresh --auto-scaling-group-name itemsd-test >/dev/null
curl -fsS -X POST "$standin_url/_standin/settle" >/dev/null

next_refresh rollback
deploy rollback "$(env_value '.new[1]')"
check "an alarm fires: exit 7 (RollbackSuccessful) with the alarm in the reason" \
    exited rollback 7 'was rolled back: .*itemsd-test-target-5xx is in ALARM'
check "an alarm fires: the group stays on launch template version 2" test "$(group_version)" = 2

next_refresh rollback-failed
deploy rollback-failed "$(env_value '.new[1]')"
check "the rollback itself fails: exit 8 (RollbackFailed)" exited rollback-failed 8 'the rollback of instance refresh .* failed'

next_refresh failed
deploy failed "$(env_value '.new[1]')"
check "a failed refresh: exit 5 with its reason" exited failed 5 'failed: An instance failed to launch'

next_refresh cancelled
deploy cancelled "$(env_value '.new[1]')"
check "a refresh cancelled by someone else: exit 6" exited cancelled 6 'was cancelled: The instance refresh was cancelled by a user'

: >"$work/calls.jsonl"
next_refresh hold
deploy timeout "$(env_value '.new[1]')" DEPLOY_TIMEOUT_SECONDS=3
check "a timeout: exit 9, rollback requested" exited timeout 9 'still (Pending|InProgress) \([0-9]+ %\) after 3 s: rollback requested'
check "a timeout: RollbackInstanceRefresh was called" grep -q '"RollbackInstanceRefresh"' "$work/calls.jsonl"
curl -fsS -X POST "$standin_url/_standin/settle" >/dev/null

: >"$work/calls.jsonl"
deploy arm "$(env_value .arm)"
check "an arm64 AMI for an x86_64 group: exit 3, no refresh started" \
    bash -c "grep -q 'is arm64, the group runs x86_64' '$work/arm.out' && ! grep -q StartInstanceRefresh '$work/calls.jsonl'"
check "an arm64 AMI: the exit code is 3" test "$status" = 3
deploy usage ami-nothex
check "bad arguments: exit 2 with the usage" exited usage 2 'usage: scripts/deploy.sh ENV AMI_ID'

# --- smoke-test.sh against two itemsd behind HAProxy --------------------------------------
echo "test-deploy: deploy.sh cases done after $((SECONDS - start)) s"
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/itemsd-test-deploy-pg.XXXXXX")
pg_port=$(free_port)
start_tls_cluster "$pg_dir" "$pg_port" 2>"$work/postgres.log" || fail "PostgreSQL did not start (see $work/postgres.log)"
psql_tls_at "$pg_dir" "$pg_port" -qc 'CREATE DATABASE appdb' >/dev/null
check "PostgreSQL refuses a connection without TLS" \
    bash -c "! PGSSLMODE=disable psql -h 127.0.0.1 -p $pg_port -U postgres -d appdb -c 'SELECT 1' >/dev/null 2>&1"

backend_ports=()
for suffix in a b; do
    port=$(free_port)
    backend_ports+=("$port")
    env -u DB_SECRET_ARN -u CLOUDWATCH_LOG_GROUP -u CLOUDWATCH_NAMESPACE -u AWS_ENDPOINT_URL \
        AWS_EC2_METADATA_DISABLED=true APPLICATION_PORT="$port" BIND_ADDRESS=127.0.0.1 \
        DB_HOST=127.0.0.1 DB_PORT="$pg_port" DB_NAME=appdb DB_USER=postgres DB_PASSWORD= \
        DB_SSLMODE=verify-full DB_SSLROOTCERT="$pg_dir/ca.pem" APP_VERSION="$NEW_VERSION" ENVIRONMENT=test \
        INSTANCE_ID="i-0smoke00000000$suffix" INSTANCE_IP=127.0.0.1 AVAILABILITY_ZONE=local \
        SHUTDOWN_DELAY_SECONDS=0 SHUTDOWN_TIMEOUT_SECONDS=2 \
        "$itemsd_binary" >"$work/itemsd-$suffix.log" 2>&1 &
    pids+=($!)
    wait_for "itemsd $suffix" curl -fsS "http://127.0.0.1:$port/health"
done
proxy_port=$(free_port)
cat >"$work/haproxy.cfg" <<CFG
global
    log stderr format raw local0 warning
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    retries 0
frontend web
    bind 127.0.0.1:$proxy_port
    default_backend itemsd
backend itemsd
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server inter 250ms fastinter 250ms downinter 250ms fall 2 rise 2
    server a 127.0.0.1:${backend_ports[0]} check
    server b 127.0.0.1:${backend_ports[1]} check
CFG
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)
wait_for "HAProxy" curl -fsS "http://127.0.0.1:$proxy_port/health"

smoke() {
    local name=$1
    shift
    status=0
    env "$@" scripts/smoke-test.sh "http://127.0.0.1:$proxy_port" >"$work/$name.out" 2>&1 || status=$?
    sed 's/^/    | /' "$work/$name.out"
}
smoke smoke SMOKE_EXPECT_VERSION="$NEW_VERSION" SMOKE_EXPECT_INSTANCES=i-0smoke00000000a,i-0smoke00000000b
check "smoke test through HAProxy passes: health, list, create, read, delete, both instances" \
    exited smoke 0 '^smoke: 6 passed, 0 failed$'
check "smoke test reports the version of each instance" \
    bash -c "grep -q 'instance i-0smoke00000000a answers version $NEW_VERSION' '$work/smoke.out' && grep -q 'instance i-0smoke00000000b answers version $NEW_VERSION' '$work/smoke.out'"
smoke smoke-wrong SMOKE_EXPECT_VERSION=9.9.9
check "smoke test fails when the instances run another version" exited smoke-wrong 1 'not on version 9.9.9'

echo "test-deploy: $((SECONDS - start)) s; logs in ${work#"$repo_root/"}"
checks_summary test-deploy
