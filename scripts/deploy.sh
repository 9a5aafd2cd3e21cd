#!/usr/bin/env bash
# Deploys an itemsd AMI to an environment: a new version of the group's launch template with only
# the image changed, then an instance refresh that rolls the group onto it with the preferences
# the Terraform gives the group (min healthy 90 %, max 110 %, warm-up, checkpoints, auto rollback
# on the target-5xx and unhealthy-hosts alarms), followed to its end.
#
#   scripts/deploy.sh ENV AMI_ID        e.g. scripts/deploy.sh dev ami-0123456789abcdef0
#
# Why this route (docs/delivery.md): the refresh is started with a desired configuration (the
# new launch template version), which is what AWS requires for a rollback, automatic or manual;
# updating the group first and then refreshing would leave nothing to roll back to. A `terraform
# apply -var ami_id=...` would need the whole stack's permissions, and the provider cancels a
# running refresh instead of refusing. The Terraform reads the template's latest version, so
# after a successful deploy it sees the image deployed here and plans no change, as long as the
# environment's AMI selection (the newest itemsd AMI, or ami_version / ami_id) picks the same
# image: this script says so when it does not.
#
# The preferences and the group's name come from the SSM parameter /itemsd-ENV/instance-refresh
# (JSON, written by terraform/modules/compute from the same variables as the group's
# instance_refresh block), so that they exist in one place.
#
# It refuses to start while another refresh of the group is active, prints a line whenever the
# refresh's status, percentage, instances to update or status reason change, and on success
# prints what the smoke test needs (and appends it, as key=value lines, to DEPLOY_RESULT_FILE).
#
# Exit codes:
#   0  the refresh succeeded (or the group already runs this AMI): the group is on the new
#      launch template version
#   1  an AWS call failed (credentials, permissions, throttling): the message names it
#   2  usage: bad arguments or environment
#   3  precondition: the AMI is not an available itemsd AMI of the group's architecture, or the
#      group / its launch template / the settings parameter is not what this script expects
#   4  another instance refresh of the group is active (nothing was changed)
#   5  the refresh failed (Failed): the group stays on its previous launch template version
#   6  the refresh was cancelled (Cancelled)
#   7  the refresh was rolled back (RollbackSuccessful): an alarm fired or instances failed
#   8  the rollback itself failed (RollbackFailed): look at the group at once
#   9  timeout: the refresh did not end within DEPLOY_TIMEOUT_SECONDS; a rollback was requested
#      (DEPLOY_ON_TIMEOUT=rollback, the default) or the refresh was left running (leave)
#
# Inputs (environment):
#   AWS_REGION / AWS_DEFAULT_REGION, credentials    as the AWS CLI takes them
#   AWS_CLI                 the AWS CLI (default: <repo>/.venv/bin/aws when it exists, else aws)
#   DEPLOY_PARAMETER        the settings parameter (default /itemsd-ENV/instance-refresh)
#   DEPLOY_TIMEOUT_SECONDS  how long to follow the refresh (default 3600)
#   DEPLOY_POLL_SECONDS     seconds between two looks at it (default 15; may be fractional)
#   DEPLOY_ON_TIMEOUT       rollback (default) or leave
#   DEPLOY_RESULT_FILE      optional: append key=value lines (ami_id, version, ...) on success,
#                           e.g. "$GITHUB_OUTPUT"
set -o errexit -o nounset -o pipefail

readonly EXIT_AWS=1 EXIT_USAGE=2 EXIT_PRECONDITION=3 EXIT_BUSY=4 EXIT_FAILED=5 EXIT_CANCELLED=6
readonly EXIT_ROLLED_BACK=7 EXIT_ROLLBACK_FAILED=8 EXIT_TIMEOUT=9
readonly ACTIVE_STATUSES=" Pending InProgress Cancelling RollbackInProgress Baking "

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf 'deploy: %s\n' "$*"; }
die() {
    local code=$1
    shift
    printf 'deploy: error: %s\n' "$*" >&2
    exit "$code"
}

usage() {
    die "$EXIT_USAGE" "$*
usage: scripts/deploy.sh ENV AMI_ID   (e.g. scripts/deploy.sh dev ami-0123456789abcdef0)"
}

# check_inputs ARGS...: sets env, ami_id and the settings; exits 2 on anything wrong.
check_inputs() {
    (($# == 2)) || usage "expected 2 arguments, got $#"
    env=$1
    ami_id=$2
    [[ "$env" =~ ^[a-z][a-z0-9-]{0,15}$ ]] || usage "ENV must be a short lower-case name such as dev or prod, not '$env'"
    [[ "$ami_id" =~ ^ami-[0-9a-f]{8,17}$ ]] || usage "AMI_ID must look like ami-0123456789abcdef0, not '$ami_id'"
    parameter=${DEPLOY_PARAMETER:-/itemsd-$env/instance-refresh}
    timeout_seconds=${DEPLOY_TIMEOUT_SECONDS:-3600}
    poll_seconds=${DEPLOY_POLL_SECONDS:-15}
    on_timeout=${DEPLOY_ON_TIMEOUT:-rollback}
    result_file=${DEPLOY_RESULT_FILE:-}
    [[ "$timeout_seconds" =~ ^[1-9][0-9]*$ ]] || usage "DEPLOY_TIMEOUT_SECONDS must be a positive integer, not '$timeout_seconds'"
    [[ "$poll_seconds" =~ ^([0-9]+\.)?[0-9]+$ && ! "$poll_seconds" =~ ^0*\.?0*$ ]] ||
        usage "DEPLOY_POLL_SECONDS must be a positive number, not '$poll_seconds'"
    [[ "$on_timeout" == rollback || "$on_timeout" == leave ]] || usage "DEPLOY_ON_TIMEOUT must be rollback or leave, not '$on_timeout'"
    [[ "$parameter" == /* ]] || usage "DEPLOY_PARAMETER must be an SSM parameter name starting with /, not '$parameter'"
    if [[ -n "${AWS_CLI:-}" ]]; then
        aws=$AWS_CLI
    elif [[ -x "$repo_root/.venv/bin/aws" ]]; then
        aws=$repo_root/.venv/bin/aws
    else
        aws=aws
    fi
    command -v "$aws" >/dev/null || usage "the AWS CLI ($aws) is not installed: scripts/install-python-tools.sh, or set AWS_CLI"
    command -v jq >/dev/null || usage "jq is not installed (apt-get install jq)"
    [[ -n "${AWS_REGION:-${AWS_DEFAULT_REGION:-}}" ]] || usage "set AWS_REGION (or AWS_DEFAULT_REGION)"
}

# call SERVICE OPERATION ARGS...: the AWS CLI's JSON answer on stdout; exits 1 naming the call on
# failure (the CLI's own message says why: AccessDenied, ExpiredToken, Throttling, ...).
call() {
    local out err
    err=$(mktemp)
    if out=$("$aws" --output json "$@" 2>"$err"); then
        rm -f "$err"
        printf '%s\n' "$out"
        return 0
    fi
    local message
    message=$(tr '\n' ' ' <"$err")
    rm -f "$err"
    die "$EXIT_AWS" "aws $1 $2 failed: ${message% }"
}

# read_settings: the group's name and the refresh preferences the Terraform wrote.
read_settings() {
    local value
    value=$(call ssm get-parameter --name "$parameter" | jq -r '.Parameter.Value')
    jq -e 'type == "object" and (.AutoScalingGroupName | type == "string") and (.Preferences | type == "object")' \
        <<<"$value" >/dev/null 2>&1 ||
        die "$EXIT_PRECONDITION" "$parameter does not hold {AutoScalingGroupName, Preferences} (terraform/modules/compute writes it)"
    group=$(jq -r '.AutoScalingGroupName' <<<"$value")
    preferences=$(jq -c '.Preferences' <<<"$value")
    log "environment $env: group $group; preferences $preferences (from $parameter)"
}

# read_group: the group's launch template and version (a number: rollback needs one).
read_group() {
    local groups count
    groups=$(call autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$group")
    count=$(jq '.AutoScalingGroups | length' <<<"$groups")
    ((count == 1)) || die "$EXIT_PRECONDITION" "Auto Scaling group $group not found"
    template_id=$(jq -r '.AutoScalingGroups[0].LaunchTemplate.LaunchTemplateId // empty' <<<"$groups")
    current_version=$(jq -r '.AutoScalingGroups[0].LaunchTemplate.Version // empty' <<<"$groups")
    [[ -n "$template_id" ]] || die "$EXIT_PRECONDITION" "group $group has no launch template (a mixed instances policy or a launch configuration is not handled here)"
    [[ "$current_version" =~ ^[0-9]+$ ]] ||
        die "$EXIT_PRECONDITION" "group $group uses launch template version '$current_version': a rollback needs a numbered version (the Terraform sets one)"
    target_group_arns=$(jq -r '.AutoScalingGroups[0].TargetGroupARNs // [] | join(" ")' <<<"$groups")
}

# refuse_if_busy: exits 4 when a refresh of the group is active.
refuse_if_busy() {
    local refreshes active
    refreshes=$(call autoscaling describe-instance-refreshes --auto-scaling-group-name "$group" --max-records 10)
    active=$(jq -r --arg active "$ACTIVE_STATUSES" \
        '[.InstanceRefreshes[] | select(.Status as $s | $active | contains(" " + $s + " "))][0] // empty
         | "\(.InstanceRefreshId) is \(.Status) at \(.PercentageComplete // 0) % since \(.StartTime)"' <<<"$refreshes")
    if [[ -n "$active" ]]; then
        die "$EXIT_BUSY" "another instance refresh of $group is active: $active; nothing was changed. Wait for it, or stop it:
  aws autoscaling cancel-instance-refresh --auto-scaling-group-name $group"
    fi
}

# check_ami: the AMI is available, is an itemsd AMI and has the architecture of the group's
# current image; sets version and current_ami.
check_ami() {
    local versions images new old arch_tag newest
    versions=$(call ec2 describe-launch-template-versions --launch-template-id "$template_id" --versions "$current_version")
    current_ami=$(jq -r '.LaunchTemplateVersions[0].LaunchTemplateData.ImageId // empty' <<<"$versions")
    [[ -n "$current_ami" ]] || die "$EXIT_PRECONDITION" "launch template $template_id version $current_version has no image id"
    images=$(call ec2 describe-images --image-ids "$ami_id" "$current_ami")
    new=$(jq -c --arg id "$ami_id" '.Images[] | select(.ImageId == $id)' <<<"$images")
    old=$(jq -c --arg id "$current_ami" '.Images[] | select(.ImageId == $id)' <<<"$images")
    [[ -n "$new" ]] || die "$EXIT_PRECONDITION" "AMI $ami_id not found in this account and region"
    [[ "$(jq -r '.State' <<<"$new")" == available ]] ||
        die "$EXIT_PRECONDITION" "AMI $ami_id is $(jq -r '.State' <<<"$new"), not available"
    [[ "$(jq -r '[.Tags[]? | select(.Key == "Application")][0].Value // ""' <<<"$new")" == itemsd ]] ||
        die "$EXIT_PRECONDITION" "AMI $ami_id has no tag Application=itemsd: not an itemsd image (ami/itemsd.pkr.hcl tags them)"
    if [[ -n "$old" && "$(jq -r '.Architecture' <<<"$new")" != "$(jq -r '.Architecture' <<<"$old")" ]]; then
        die "$EXIT_PRECONDITION" "AMI $ami_id is $(jq -r '.Architecture' <<<"$new"), the group runs $(jq -r '.Architecture' <<<"$old") ($current_ami): change architecture and instance_type through the Terraform"
    fi
    version=$(jq -r '[.Tags[]? | select(.Key == "Version")][0].Value // "unknown"' <<<"$new")
    arch_tag=$(jq -r '[.Tags[]? | select(.Key == "Architecture")][0].Value // ""' <<<"$new")
    log "AMI $ami_id: itemsd $version, $arch_tag; the group runs $current_ami (launch template $template_id version $current_version)"

    # What the Terraform's lookup (modules/compute, when ami_id and ami_version are unset) selects.
    newest=$(call ec2 describe-images --owners self \
        --filters Name=tag:Application,Values=itemsd "Name=tag:Architecture,Values=$arch_tag" Name=state,Values=available |
        jq -r '.Images | sort_by(.CreationDate) | last | .ImageId // empty')
    if [[ -n "$newest" && "$newest" != "$ami_id" ]]; then
        log "warning: the newest itemsd $arch_tag AMI is $newest, not $ami_id: a terraform apply of envs/$env without ami_version or ami_id would move the group to it; pin ami_version = \"$version\" there"
    fi
}

# write_result KEY=VALUE...: to stdout, and to DEPLOY_RESULT_FILE when set.
write_result() {
    local line
    for line in "$@"; do
        log "result: $line"
        [[ -z "$result_file" ]] || printf '%s\n' "$line" >>"$result_file"
    done
}

# report_service VERSION_NUMBER: the ALB and the healthy targets, for the smoke test.
report_service() {
    local lt_version=$1 dns="" instances="" tg lb_arn health
    for tg in $target_group_arns; do
        lb_arn=$(call elbv2 describe-target-groups --target-group-arns "$tg" | jq -r '.TargetGroups[0].LoadBalancerArns[0] // empty')
        if [[ -n "$lb_arn" && -z "$dns" ]]; then
            dns=$(call elbv2 describe-load-balancers --load-balancer-arns "$lb_arn" | jq -r '.LoadBalancers[0].DNSName // empty')
        fi
        health=$(call elbv2 describe-target-health --target-group-arn "$tg")
        instances+="$(jq -r '[.TargetHealthDescriptions[] | select(.TargetHealth.State == "healthy") | .Target.Id] | join(",")' <<<"$health")"
    done
    write_result "ami_id=$ami_id" "version=$version" "launch_template_version=$lt_version" \
        "alb_dns_name=$dns" "healthy_instances=$instances"
}

# follow REFRESH_ID: prints progress until the refresh ends; exits with its documented code.
follow() {
    local id=$1 deadline=$((SECONDS + timeout_seconds)) last="" refresh status pct todo reason line
    while :; do
        refresh=$(call autoscaling describe-instance-refreshes --auto-scaling-group-name "$group" --instance-refresh-ids "$id" |
            jq -c '.InstanceRefreshes[0] // empty')
        [[ -n "$refresh" ]] || die "$EXIT_AWS" "instance refresh $id of $group is no longer listed"
        status=$(jq -r '.Status' <<<"$refresh")
        pct=$(jq -r '.PercentageComplete // 0' <<<"$refresh")
        todo=$(jq -r '.InstancesToUpdate // "?"' <<<"$refresh")
        reason=$(jq -r '.RollbackDetails.RollbackReason // .StatusReason // ""' <<<"$refresh")
        line="$status, $pct % complete, $todo instance(s) to update${reason:+: $reason}"
        if [[ "$line" != "$last" ]]; then
            log "refresh $id: $line"
            last=$line
        fi
        case "$status" in
        Successful) return 0 ;;
        Failed) die "$EXIT_FAILED" "instance refresh $id failed: ${reason:-no reason given}; the group stays on launch template version $current_version ($current_ami). See: aws autoscaling describe-scaling-activities --auto-scaling-group-name $group" ;;
        Cancelled) die "$EXIT_CANCELLED" "instance refresh $id was cancelled: ${reason:-no reason given}; instances replaced before the cancel keep the new image until the next refresh" ;;
        RollbackSuccessful) die "$EXIT_ROLLED_BACK" "instance refresh $id was rolled back: ${reason:-no reason given}; the group is back on launch template version $current_version ($current_ami). Look at the alarms and the new instances' logs before deploying $ami_id again" ;;
        RollbackFailed) die "$EXIT_ROLLBACK_FAILED" "the rollback of instance refresh $id failed: ${reason:-no reason given}; the group may run both images: look at it now (aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names $group)" ;;
        esac
        [[ "$ACTIVE_STATUSES" == *" $status "* ]] || die "$EXIT_AWS" "instance refresh $id has an unknown status '$status'"
        if ((SECONDS >= deadline)); then
            if [[ "$on_timeout" == rollback && "$status" != RollbackInProgress && "$status" != Cancelling ]]; then
                call autoscaling rollback-instance-refresh --auto-scaling-group-name "$group" >/dev/null
                die "$EXIT_TIMEOUT" "instance refresh $id still $status ($pct %) after ${timeout_seconds} s: rollback requested; the group returns to launch template version $current_version ($current_ami). Follow it: aws autoscaling describe-instance-refreshes --auto-scaling-group-name $group"
            fi
            die "$EXIT_TIMEOUT" "instance refresh $id still $status ($pct %) after ${timeout_seconds} s; left running (DEPLOY_ON_TIMEOUT=$on_timeout)"
        fi
        sleep "$poll_seconds"
    done
}

main() {
    check_inputs "$@"
    read_settings
    read_group
    refuse_if_busy
    check_ami
    if [[ "$current_ami" == "$ami_id" ]]; then
        log "group $group already runs $ami_id (launch template version $current_version): nothing to roll"
        report_service "$current_version"
        return 0
    fi

    local created new_version started err id
    created=$(call ec2 create-launch-template-version --launch-template-id "$template_id" \
        --source-version "$current_version" --version-description "itemsd $version ($ami_id) by scripts/deploy.sh" \
        --launch-template-data "{\"ImageId\":\"$ami_id\"}")
    new_version=$(jq -r '.LaunchTemplateVersion.VersionNumber' <<<"$created")
    log "launch template $template_id version $new_version: version $current_version with image $ami_id"

    err=$(mktemp)
    if ! started=$("$aws" --output json autoscaling start-instance-refresh --auto-scaling-group-name "$group" \
        --strategy Rolling --preferences "$preferences" \
        --desired-configuration "{\"LaunchTemplate\":{\"LaunchTemplateId\":\"$template_id\",\"Version\":\"$new_version\"}}" 2>"$err"); then
        if grep -q InstanceRefreshInProgress "$err"; then
            rm -f "$err"
            die "$EXIT_BUSY" "another instance refresh of $group started meanwhile; the group still uses version $current_version"
        fi
        local message
        message=$(tr '\n' ' ' <"$err")
        rm -f "$err"
        die "$EXIT_AWS" "aws autoscaling start-instance-refresh failed: $message"
    fi
    rm -f "$err"
    id=$(jq -r '.InstanceRefreshId' <<<"$started")
    log "instance refresh $id started on $group (timeout ${timeout_seconds} s)"
    follow "$id"
    log "instance refresh $id succeeded: $group runs itemsd $version ($ami_id), launch template version $new_version"
    report_service "$new_version"
}

main "$@"
