# Compute: ALB -> target group -> Auto Scaling group of itemsd instances.
#
# The shutdown timeline (docs/design.md section 3, docs/terraform.md) ties these
# numbers together; variables.tf enforces it with validation blocks. With the
# defaults:
#
#   health check: interval 10 s, timeout 5 s, unhealthy threshold 2
#     -> the ALB stops routing to a failing target within 2 x 10 + 5 = 25 s
#   itemsd SHUTDOWN_DELAY_SECONDS   25 s  (/health 503, still serving)
#   itemsd SHUTDOWN_TIMEOUT_SECONDS 30 s  (drain in-flight requests)
#   duties' stop budget             20 s  (last metrics, then the logs, in one budget)
#   pre-stop + drain + flush      = 75 s
#   deregistration_delay            60 s  <= 75 s
#   systemd TimeoutStopSec          90 s  >  75 s: systemd never kills a clean exit
#                                   (written by this module as a drop-in, below)
#   ALB idle timeout                60 s  <  itemsd's header read timeout
#
# The order AWS uses when the group removes an instance (scale-in, instance
# refresh, health replacement):
#
#   1. the instance leaves InService; Auto Scaling deregisters it from the
#      target group: the ALB sends it no new requests and waits up to
#      deregistration_delay (60 s) for the open ones (connection draining);
#   2. only then does the instance enter Terminating (no lifecycle hook here,
#      so it does not wait in Terminating:Wait) and EC2 shuts the OS down;
#   3. shutdown -> systemd stops itemsd.service -> SIGTERM -> itemsd's pre-stop
#      delay, cut short because IMDS autoscaling/target-lifecycle-state says
#      Terminated (the ALB has drained it already) -> drain -> flush -> exit 0,
#      all within TimeoutStopSec.
#
# SIGTERM while the instance is still registered (systemctl restart, a reboot,
# a Spot interruption) gets the full pre-stop delay: the ALB only learns from
# the failing /health, within 25 s, and the delay covers that.

data "aws_ami" "itemsd" {
  count = var.ami_id == null ? 1 : 0

  owners      = var.ami_owners
  most_recent = true

  filter {
    name   = "tag:Application"
    values = ["itemsd"]
  }

  filter {
    name   = "tag:Architecture"
    values = [var.architecture]
  }

  dynamic "filter" {
    for_each = var.ami_version == null ? [] : [var.ami_version]
    content {
      name   = "tag:Version"
      values = [filter.value]
    }
  }

  filter {
    name   = "state"
    values = ["available"]
  }
}

data "aws_region" "current" {}

locals {
  ami_id   = var.ami_id != null ? var.ami_id : data.aws_ami.itemsd[0].id
  asg_name = var.name
  https    = var.certificate_arn != null

  # Instance refresh may run this many percent of the desired capacity at
  # once (new instances before old ones leave); the connection budget counts it.
  refresh_max_healthy_percentage = 110

  # /etc/itemsd/itemsd.env: non-secret settings only. The password lives in
  # Secrets Manager and is fetched by itemsd at run time. These keys are the
  # module's own: extra_settings may not redefine them (variables.tf).
  settings = merge(
    var.extra_settings,
    {
      ENVIRONMENT              = var.environment
      AWS_REGION               = data.aws_region.current.name
      APPLICATION_PORT         = tostring(var.app_port)
      AUTOSCALING_GROUP_NAME   = local.asg_name
      DB_SECRET_ARN            = var.db_secret_arn
      DB_POOL_MAX_CONN         = tostring(var.db_pool_max_connections)
      DB_SSLMODE               = "verify-full"
      DB_SSLROOTCERT           = var.db_ssl_root_cert_path
      CLOUDWATCH_LOG_GROUP     = var.log_group_name
      CLOUDWATCH_NAMESPACE     = var.metrics_namespace
      SHUTDOWN_DELAY_SECONDS   = tostring(var.shutdown_delay_seconds)
      SHUTDOWN_TIMEOUT_SECONDS = tostring(var.shutdown_timeout_seconds)
    },
    # Where itemsd connects: the RDS Proxy endpoint when there is one. itemsd
    # takes the host from the connection secret when DB_SECRET_ARN is set, and
    # the database module points that secret at the same endpoint. Behind the
    # proxy itemsd sends no startup options and no named statements
    # (DB_RDS_PROXY): the proxy refuses the one and pins sessions on the other.
    var.db_host == null ? {} : { DB_HOST = var.db_host, DB_RDS_PROXY = "true" },
    # The role itemsd serves as, with IAM auth tokens (never the master
    # password); itemsd migrate, from the same file, creates it. IAM tokens
    # need TLS, which DB_SSLMODE=verify-full above gives. Left out behind the
    # proxy, where itemsd logs in as the master user.
    var.db_iam_user == null ? {} : { DB_IAM_USER = var.db_iam_user },
  )

  settings_file = join("", [for k in sort(keys(local.settings)) : "${k}=${local.settings[k]}\n"])

  # systemd drop-in: TimeoutStopSec from the same variable the shutdown
  # timeline validates, overriding the image's itemsd.service (90 s).
  systemd_dropin_path    = "/etc/systemd/system/itemsd.service.d/50-terraform.conf"
  systemd_dropin_content = "[Service]\nTimeoutStopSec=${var.systemd_timeout_stop_seconds}\n"

  # The env file is written by write_files, in cloud-init.service; itemsd.service
  # is ordered After=cloud-init.service and reads EnvironmentFile= when it
  # starts, so it sees the file without more ado. A drop-in is different:
  # systemd reads unit files when it loads them, at boot, before cloud-init has
  # run, so a drop-in needs a daemon-reload before it counts. runcmd would be
  # too late (it runs in cloud-final.service, which itemsd does not wait for),
  # and write_files runs after bootcmd in the same stage. So bootcmd, which runs
  # in cloud-init.service too (before itemsd can start), writes the drop-in and
  # reloads systemd; the start job of itemsd waits in the queue across the
  # reload and then runs with the new TimeoutStopSec. bootcmd runs on every
  # boot, which is harmless: it writes the same file again.
  bootcmd = [
    "mkdir -p '${dirname(local.systemd_dropin_path)}' && printf '%s' '${local.systemd_dropin_content}' > '${local.systemd_dropin_path}' && systemctl daemon-reload",
  ]

  user_data = "#cloud-config\n${yamlencode({
    bootcmd = local.bootcmd
    write_files = [{
      path        = "/etc/itemsd/itemsd.env"
      owner       = "root:root"
      permissions = "0644"
      content     = local.settings_file
    }]
  })}"

  # The connection budget: every instance the group can run at once, each
  # with a full pool, plus headroom, must fit in the database's max_connections.
  budget_instances   = ceil(var.max_size * local.refresh_max_healthy_percentage / 100)
  budget_connections = local.budget_instances * var.db_pool_max_connections + var.db_connection_headroom

  # The instance refresh preferences, in StartInstanceRefresh's own names: the
  # group's instance_refresh block below and scripts/deploy.sh (through the SSM
  # parameter) start refreshes with exactly these.
  # (slice keeps the optional parts out without a conditional's type clash.)
  refresh_preferences = merge(concat(
    [{
      MinHealthyPercentage = var.instance_refresh_min_healthy_percentage
      MaxHealthyPercentage = local.refresh_max_healthy_percentage
      InstanceWarmup       = var.instance_warmup_seconds
      AutoRollback         = true
      SkipMatching         = false
    }],
    slice([{
      CheckpointPercentages = var.instance_refresh_checkpoints
      CheckpointDelay       = var.instance_refresh_checkpoint_delay_seconds
    }], 0, length(var.instance_refresh_checkpoints) > 0 ? 1 : 0),
    slice([{
      AlarmSpecification = { Alarms = var.rollback_alarm_names }
    }], 0, length(var.rollback_alarm_names) > 0 ? 1 : 0),
  )...)

  # Paths only the VPC may reach: the ALB answers them itself with itemsd's
  # 404 body. Reach them on the instance port from inside the VPC or via SSM
  # (/status answers only the instance itself: `itemsd status`). A trailing
  # "*" covers the path and everything below it in one value each: a rule
  # takes at most 5 condition values.
  internal_paths = ["/metrics*", "/db*", "/status*"]
  not_found_body = jsonencode({ error = "Not Found", message = "the requested URL was not found", status = 404 })
}

# --- load balancer ------------------------------------------------------------

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Access logs are optional (alb_access_logs_bucket); the bucket and its policy belong to the account's logging setup, not to this module.
  #checkov:skip=CKV2_AWS_28:The waf module associates its web ACL with this ALB from the environment (prod by default, enable_waf); the check does not follow the association across modules.
  #checkov:skip=CKV_AWS_150:Deletion protection is a variable: on in prod, off in dev so that the environment can be destroyed.
  name                       = "${var.name}-alb"
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [var.alb_security_group_id]
  subnets                    = var.public_subnet_ids
  idle_timeout               = var.idle_timeout_seconds
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  desync_mitigation_mode     = "defensive"

  dynamic "access_logs" {
    for_each = var.alb_access_logs_bucket == null ? [] : [var.alb_access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.name
      enabled = true
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-alb" })
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; ALB -> instance traffic stays in the VPC, admitted only from the ALB security group, and itemsd serves plain HTTP.
  name                 = "${var.name}-tg"
  port                 = var.app_port
  protocol             = "HTTP"
  target_type          = "instance"
  vpc_id               = var.vpc_id
  deregistration_delay = var.deregistration_delay_seconds

  health_check {
    enabled             = true
    path                = "/health"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = var.health_check_interval_seconds
    timeout             = var.health_check_timeout_seconds
    healthy_threshold   = var.health_check_healthy_threshold
    unhealthy_threshold = var.health_check_unhealthy_threshold
  }

  tags = var.tags
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:Port 80 either redirects to HTTPS (certificate_arn set) or, without a certificate (dev), serves HTTP.
  #checkov:skip=CKV_AWS_103:No TLS on this listener; the HTTPS listener uses ssl_policy, validated to TLS 1.2+ policies.
  #checkov:skip=CKV2_AWS_20:Redirects to HTTPS whenever a certificate is given; dev without a domain has no certificate.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.https ? "redirect" : "forward"
    target_group_arn = local.https ? null : aws_lb_target_group.this.arn

    dynamic "redirect" {
      for_each = local.https ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

# Internal endpoints (/metrics, /db, /status) are not served to the internet: on every
# listener that forwards, a rule answers them with a fixed 404 before the
# default action. ALB path patterns are case-sensitive and match the path only
# (no query string); itemsd's routes are lower-case.
resource "aws_lb_listener_rule" "internal_paths_http" {
  count = local.https ? 0 : 1

  listener_arn = aws_lb_listener.http.arn
  priority     = 10

  action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = local.not_found_body
      status_code  = "404"
    }
  }

  condition {
    path_pattern {
      values = local.internal_paths
    }
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "internal_paths_https" {
  count = local.https ? 1 : 0

  listener_arn = aws_lb_listener.https[0].arn
  priority     = 10

  action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = local.not_found_body
      status_code  = "404"
    }
  }

  condition {
    path_pattern {
      values = local.internal_paths
    }
  }

  tags = var.tags
}

# --- instances ----------------------------------------------------------------

resource "aws_launch_template" "this" {
  name_prefix   = "${var.name}-"
  description   = "itemsd ${var.environment}"
  image_id      = local.ami_id
  instance_type = var.instance_type
  ebs_optimized = true
  user_data     = base64encode(local.user_data)

  # No key pair: engineers use SSM Session Manager.

  iam_instance_profile {
    name = var.instance_profile_name
  }

  network_interfaces {
    associate_public_ip_address = false
    delete_on_termination       = true
    security_groups             = [var.app_security_group_id]
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  block_device_mappings {
    device_name = var.root_device_name

    ebs {
      volume_type           = "gp3"
      volume_size           = var.root_volume_size_gib
      encrypted             = true
      kms_key_id            = var.ebs_kms_key_arn
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-app" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.tags, { Name = "${var.name}-app" })
  }

  tags = var.tags

  lifecycle {
    precondition {
      # EC2 takes 16 KiB; 4 KiB keeps it a settings file, not a provisioning script.
      condition     = length(local.user_data) <= 4096
      error_message = "User data must stay a small settings file (at most 4 KiB)."
    }
  }
}

resource "aws_autoscaling_group" "this" {
  name                      = local.asg_name
  vpc_zone_identifier       = var.private_subnet_ids
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  target_group_arns         = [aws_lb_target_group.this.arn]
  health_check_type         = "ELB"
  health_check_grace_period = var.health_check_grace_period_seconds
  default_instance_warmup   = var.instance_warmup_seconds
  wait_for_capacity_timeout = "10m"
  termination_policies      = ["OldestLaunchTemplate", "OldestInstance"]
  enabled_metrics = [
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
    "GroupMinSize",
    "GroupMaxSize",
  ]

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  # A new launch template version (new AMI, new settings) rolls the group.
  # Emulators without StartInstanceRefresh switch it off.
  dynamic "instance_refresh" {
    for_each = var.instance_refresh_enabled ? [1] : []
    content {
      strategy = "Rolling"
      preferences {
        min_healthy_percentage = local.refresh_preferences.MinHealthyPercentage
        max_healthy_percentage = local.refresh_preferences.MaxHealthyPercentage
        instance_warmup        = local.refresh_preferences.InstanceWarmup
        auto_rollback          = local.refresh_preferences.AutoRollback
        skip_matching          = local.refresh_preferences.SkipMatching
        checkpoint_percentages = try(local.refresh_preferences.CheckpointPercentages, null)
        checkpoint_delay       = try(local.refresh_preferences.CheckpointDelay, null)

        dynamic "alarm_specification" {
          for_each = length(var.rollback_alarm_names) > 0 ? [1] : []
          content {
            alarms = var.rollback_alarm_names
          }
        }
      }
    }
  }

  dynamic "tag" {
    for_each = merge(var.tags, { Name = "${var.name}-app" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    # Scaling policies own the desired capacity after creation.
    ignore_changes = [desired_capacity]

    precondition {
      condition     = local.budget_connections <= var.db_max_connections
      error_message = "Connection budget exceeded: ${local.budget_instances} instances (max_size ${var.max_size} x ${local.refresh_max_healthy_percentage} % during an instance refresh, rounded up) x DB_POOL_MAX_CONN ${var.db_pool_max_connections} + headroom ${var.db_connection_headroom} = ${local.budget_connections} > max_connections ${var.db_max_connections} of ${var.db_instance_class}. Lower max_size or db_pool_max_connections, pick a larger class, or enable the RDS Proxy."
    }
  }
}

resource "aws_autoscaling_policy" "cpu" {
  name                   = "${var.name}-cpu-target"
  autoscaling_group_name = aws_autoscaling_group.this.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = var.cpu_target_percent
  }
}

resource "aws_autoscaling_policy" "requests" {
  name                   = "${var.name}-requests-target"
  autoscaling_group_name = aws_autoscaling_group.this.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.this.arn_suffix}"
    }
    target_value = var.requests_per_target
  }
}

# What scripts/deploy.sh needs to roll the group onto a new AMI the way the
# instance_refresh block above would: the group's name and the preferences
# (docs/delivery.md). Not secret; the deploy role may read this one parameter.
resource "aws_ssm_parameter" "instance_refresh" {
  #checkov:skip=CKV2_AWS_34:Not a secret (a group name and refresh preferences); a String keeps the deploy role free of KMS permissions.
  name        = "/${var.name}/instance-refresh"
  description = "itemsd ${var.environment}: the Auto Scaling group and its instance refresh preferences, for scripts/deploy.sh"
  type        = "String"
  value = jsonencode({
    AutoScalingGroupName = aws_autoscaling_group.this.name
    Strategy             = "Rolling"
    Preferences          = local.refresh_preferences
  })

  tags = var.tags
}
