# Plan-only tests of the compute module against a mocked AWS provider.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      name = "eu-north-1"
    }
  }
  mock_data "aws_ami" {
    defaults = {
      id = "ami-0123456789abcdef0"
    }
  }
  # Fixed IDs the real provider would accept, should a run ever apply.
  mock_resource "aws_launch_template" {
    override_during = plan
    defaults = {
      id             = "lt-0123456789abcdef0"
      latest_version = 1
    }
  }
  mock_resource "aws_lb" {
    override_during = plan
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-north-1:123456789012:loadbalancer/app/itemsd-test-alb/0123456789abcdef"
      arn_suffix = "app/itemsd-test-alb/0123456789abcdef"
      dns_name   = "itemsd-test-alb-123456789.eu-north-1.elb.amazonaws.com"
    }
  }
  mock_resource "aws_lb_target_group" {
    override_during = plan
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-north-1:123456789012:targetgroup/itemsd-test-tg/0123456789abcdef"
      arn_suffix = "targetgroup/itemsd-test-tg/0123456789abcdef"
    }
  }
}

variables {
  name                  = "itemsd-test"
  environment           = "test"
  vpc_id                = "vpc-0123456789abcdef0"
  public_subnet_ids     = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
  private_subnet_ids    = ["subnet-0000000000000001a", "subnet-0000000000000001b"]
  alb_security_group_id = "sg-0000000000000000a"
  app_security_group_id = "sg-0000000000000000b"
  instance_profile_name = "itemsd-test-inst-0001"
  db_secret_arn         = "arn:aws:secretsmanager:eu-north-1:123456789012:secret:itemsd-test/db-connection-AbCdEf"
  log_group_name        = "/itemsd/itemsd-test"
  rollback_alarm_names  = ["itemsd-test-target-5xx", "itemsd-test-unhealthy-hosts"]
  db_max_connections    = 78
  db_instance_class     = "db.t4g.micro"
}

run "instances_are_locked_down" {
  command = plan

  assert {
    condition = (
      aws_launch_template.this.metadata_options[0].http_tokens == "required" &&
      aws_launch_template.this.metadata_options[0].http_put_response_hop_limit == 1 &&
      aws_launch_template.this.metadata_options[0].instance_metadata_tags == "enabled"
    )
    error_message = "IMDSv2 required, hop limit 1, metadata tags on"
  }
  assert {
    condition     = aws_launch_template.this.network_interfaces[0].associate_public_ip_address == "false"
    error_message = "instances get no public IP"
  }
  assert {
    condition     = aws_launch_template.this.key_name == null
    error_message = "no SSH key pair"
  }
  assert {
    condition = (
      aws_launch_template.this.block_device_mappings[0].ebs[0].encrypted == "true" &&
      aws_launch_template.this.block_device_mappings[0].ebs[0].volume_type == "gp3"
    )
    error_message = "encrypted gp3 root volume"
  }
  assert {
    condition     = aws_launch_template.this.image_id == "ami-0123456789abcdef0"
    error_message = "the AMI is found by its Packer tags when no ami_id is given"
  }
}

run "user_data_is_a_small_settings_file" {
  command = plan

  assert {
    condition     = startswith(base64decode(aws_launch_template.this.user_data), "#cloud-config\n")
    error_message = "user data is cloud-config"
  }
  assert {
    condition     = length(yamldecode(base64decode(aws_launch_template.this.user_data)).write_files) == 1 && yamldecode(base64decode(aws_launch_template.this.user_data)).write_files[0].path == "/etc/itemsd/itemsd.env"
    error_message = "user data writes exactly /etc/itemsd/itemsd.env"
  }
  assert {
    condition = (
      strcontains(output.user_data, "DB_SECRET_ARN=arn:aws:secretsmanager:eu-north-1:123456789012:secret:itemsd-test/db-connection-AbCdEf\n") &&
      strcontains(output.user_data, "CLOUDWATCH_LOG_GROUP=/itemsd/itemsd-test\n") &&
      strcontains(output.user_data, "CLOUDWATCH_NAMESPACE=Itemsd\n") &&
      strcontains(output.user_data, "SHUTDOWN_DELAY_SECONDS=25\n") &&
      strcontains(output.user_data, "SHUTDOWN_TIMEOUT_SECONDS=30\n") &&
      strcontains(output.user_data, "ENVIRONMENT=test\n") &&
      strcontains(output.user_data, "AUTOSCALING_GROUP_NAME=itemsd-test\n") &&
      strcontains(output.user_data, "AWS_REGION=eu-north-1\n") &&
      strcontains(output.user_data, "DB_POOL_MAX_CONN=10\n")
    )
    error_message = "user data carries the settings itemsd reads"
  }
  assert {
    condition = (
      strcontains(yamldecode(base64decode(aws_launch_template.this.user_data)).write_files[0].content, "DB_SSLMODE=verify-full\n") &&
      strcontains(yamldecode(base64decode(aws_launch_template.this.user_data)).write_files[0].content, "DB_SSLROOTCERT=/usr/local/share/itemsd/rds-global-bundle.pem\n")
    )
    error_message = "the settings file makes itemsd verify the database's certificate against the RDS global bundle the AMI installs"
  }
  assert {
    condition     = !strcontains(output.user_data, "DB_HOST=")
    error_message = "no DB_HOST without a proxy: the connection secret names the host"
  }
  assert {
    condition     = !strcontains(output.user_data, "DB_IAM_USER=")
    error_message = "no DB_IAM_USER unless db_iam_user is given (null leaves it out)"
  }
  assert {
    condition     = !strcontains(upper(output.user_data), "PASSWORD") && !strcontains(output.user_data, "runcmd")
    error_message = "no secret and no runcmd in user data"
  }
  assert {
    condition     = length(base64decode(aws_launch_template.this.user_data)) <= 4096
    error_message = "user data stays under 4 KiB"
  }
}

run "user_data_installs_the_timeout_stop_drop_in" {
  command = plan

  variables {
    systemd_timeout_stop_seconds = 120
  }

  assert {
    condition     = output.systemd_dropin.path == "/etc/systemd/system/itemsd.service.d/50-terraform.conf" && output.systemd_dropin.content == "[Service]\nTimeoutStopSec=120\n"
    error_message = "the drop-in sets TimeoutStopSec from systemd_timeout_stop_seconds"
  }
  assert {
    condition = yamldecode(base64decode(aws_launch_template.this.user_data)).bootcmd == [
      "mkdir -p '/etc/systemd/system/itemsd.service.d' && printf '%s' '[Service]\nTimeoutStopSec=120\n' > '/etc/systemd/system/itemsd.service.d/50-terraform.conf' && systemctl daemon-reload",
    ]
    error_message = "bootcmd (cloud-init.service, before itemsd starts) writes the drop-in and reloads systemd"
  }
}

run "db_host_points_at_the_proxy_when_given" {
  command = plan

  variables {
    db_host = "itemsd-test-proxy.proxy-abcdefghijkl.eu-north-1.rds.amazonaws.com"
  }

  assert {
    condition     = strcontains(output.user_data, "DB_HOST=itemsd-test-proxy.proxy-abcdefghijkl.eu-north-1.rds.amazonaws.com\n")
    error_message = "DB_HOST names the proxy endpoint"
  }
}

run "db_iam_user_is_written_when_given" {
  command = plan

  variables {
    db_iam_user = "itemsd_app"
  }

  assert {
    condition     = strcontains(output.user_data, "DB_IAM_USER=itemsd_app\n") && output.settings["DB_IAM_USER"] == "itemsd_app"
    error_message = "DB_IAM_USER names the app role in the settings file"
  }
  assert {
    # IAM auth tokens need TLS; itemsd refuses DB_IAM_USER below sslmode=require.
    condition     = output.settings["DB_SSLMODE"] == "verify-full"
    error_message = "DB_IAM_USER comes with DB_SSLMODE=verify-full"
  }
}

run "health_check_follows_the_shutdown_timeline" {
  command = plan

  assert {
    condition = (
      aws_lb_target_group.this.health_check[0].path == "/health" &&
      aws_lb_target_group.this.health_check[0].matcher == "200" &&
      aws_lb_target_group.this.health_check[0].interval == 10 &&
      aws_lb_target_group.this.health_check[0].timeout == 5 &&
      aws_lb_target_group.this.health_check[0].unhealthy_threshold == 2
    )
    error_message = "/health every 10 s, 5 s timeout, unhealthy after 2"
  }
  assert {
    condition     = var.shutdown_delay_seconds >= aws_lb_target_group.this.health_check[0].unhealthy_threshold * aws_lb_target_group.this.health_check[0].interval + aws_lb_target_group.this.health_check[0].timeout
    error_message = "the pre-stop delay covers the time the ALB needs to see a failing /health"
  }
  assert {
    condition     = aws_lb_target_group.this.deregistration_delay == "60" && tonumber(aws_lb_target_group.this.deregistration_delay) <= var.shutdown_delay_seconds + var.shutdown_timeout_seconds + var.log_flush_seconds
    error_message = "deregistration delay (60) <= pre-stop + drain + flush (75)"
  }
  assert {
    condition     = var.shutdown_delay_seconds + var.shutdown_timeout_seconds + var.log_flush_seconds < var.systemd_timeout_stop_seconds
    error_message = "pre-stop + drain + flush < systemd TimeoutStopSec"
  }
  assert {
    condition     = aws_lb.this.idle_timeout == 60 && aws_lb.this.drop_invalid_header_fields == true
    error_message = "ALB idle timeout 60 s and invalid headers dropped"
  }
}

run "http_only_without_certificate" {
  command = plan

  assert {
    condition     = aws_lb_listener.http.default_action[0].type == "forward" && length(aws_lb_listener.https) == 0
    error_message = "without a certificate port 80 forwards and there is no HTTPS listener"
  }
  assert {
    condition = (
      length(aws_lb_listener_rule.internal_paths_http) == 1 &&
      length(aws_lb_listener_rule.internal_paths_https) == 0 &&
      aws_lb_listener_rule.internal_paths_http[0].action[0].type == "fixed-response" &&
      aws_lb_listener_rule.internal_paths_http[0].action[0].fixed_response[0].status_code == "404" &&
      aws_lb_listener_rule.internal_paths_http[0].action[0].fixed_response[0].content_type == "application/json" &&
      jsondecode(aws_lb_listener_rule.internal_paths_http[0].action[0].fixed_response[0].message_body) == { error = "Not Found", message = "the requested URL was not found", status = 404 }
    )
    error_message = "the forwarding HTTP listener answers the internal paths with itemsd's 404 body"
  }
  assert {
    condition     = toset(flatten([for c in aws_lb_listener_rule.internal_paths_http[0].condition : [for p in c.path_pattern : p.values]])) == toset(["/metrics*", "/db*", "/status*"])
    error_message = "/metrics, /db and /status (and anything below them) are not served through the ALB"
  }
}

run "https_with_redirect_when_certificate_given" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:eu-north-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition = (
      aws_lb_listener.http.default_action[0].type == "redirect" &&
      aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS" &&
      aws_lb_listener.http.default_action[0].redirect[0].port == "443" &&
      aws_lb_listener.http.default_action[0].redirect[0].status_code == "HTTP_301"
    )
    error_message = "port 80 redirects to HTTPS with a 301"
  }
  assert {
    condition     = aws_lb_listener.https[0].protocol == "HTTPS" && aws_lb_listener.https[0].ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    error_message = "HTTPS with a TLS 1.3/1.2 policy"
  }
  assert {
    condition = (
      length(aws_lb_listener_rule.internal_paths_http) == 0 &&
      length(aws_lb_listener_rule.internal_paths_https) == 1 &&
      aws_lb_listener_rule.internal_paths_https[0].action[0].fixed_response[0].status_code == "404" &&
      toset(flatten([for c in aws_lb_listener_rule.internal_paths_https[0].condition : [for p in c.path_pattern : p.values]])) == toset(["/metrics*", "/db*", "/status*"])
    )
    error_message = "the HTTPS listener (the one that forwards) answers the internal paths with a 404"
  }
}

run "group_refreshes_safely" {
  command = plan

  variables {
    instance_refresh_checkpoints = [50, 100]
  }

  assert {
    condition     = aws_autoscaling_group.this.health_check_type == "ELB" && aws_autoscaling_group.this.default_instance_warmup == 60
    error_message = "ELB health checks and a default instance warmup"
  }
  assert {
    condition = (
      aws_autoscaling_group.this.instance_refresh[0].preferences[0].min_healthy_percentage == 90 &&
      aws_autoscaling_group.this.instance_refresh[0].preferences[0].auto_rollback == true &&
      tolist(aws_autoscaling_group.this.instance_refresh[0].preferences[0].alarm_specification[0].alarms) == tolist(["itemsd-test-target-5xx", "itemsd-test-unhealthy-hosts"]) &&
      tolist(aws_autoscaling_group.this.instance_refresh[0].preferences[0].checkpoint_percentages) == tolist([50, 100])
    )
    error_message = "instance refresh: 90 % healthy, auto rollback on the 5xx and unhealthy-host alarms, checkpoints at 50 % and 100 %"
  }
  assert {
    condition     = aws_autoscaling_policy.cpu.target_tracking_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ASGAverageCPUUtilization"
    error_message = "target tracking on CPU"
  }
  assert {
    condition     = aws_autoscaling_policy.requests.target_tracking_configuration[0].predefined_metric_specification[0].resource_label == "app/itemsd-test-alb/0123456789abcdef/targetgroup/itemsd-test-tg/0123456789abcdef"
    error_message = "target tracking on ALB requests per target"
  }
}

# scripts/deploy.sh starts refreshes with what this parameter holds: it must say
# what the group's own instance_refresh block says.
run "deploy_parameter_matches_the_refresh_block" {
  command = plan

  variables {
    instance_refresh_checkpoints              = [50, 100]
    instance_refresh_checkpoint_delay_seconds = 300
  }

  assert {
    condition     = aws_ssm_parameter.instance_refresh.name == "/itemsd-test/instance-refresh" && aws_ssm_parameter.instance_refresh.type == "String"
    error_message = "the deploy parameter is /<name>/instance-refresh, a plain String"
  }
  assert {
    condition     = jsondecode(aws_ssm_parameter.instance_refresh.value).AutoScalingGroupName == "itemsd-test" && jsondecode(aws_ssm_parameter.instance_refresh.value).Strategy == "Rolling"
    error_message = "the parameter names the group and the Rolling strategy"
  }
  assert {
    condition = jsondecode(aws_ssm_parameter.instance_refresh.value).Preferences == {
      MinHealthyPercentage  = 90
      MaxHealthyPercentage  = 110
      InstanceWarmup        = 60
      AutoRollback          = true
      SkipMatching          = false
      CheckpointPercentages = [50, 100]
      CheckpointDelay       = 300
      AlarmSpecification    = { Alarms = ["itemsd-test-target-5xx", "itemsd-test-unhealthy-hosts"] }
    }
    error_message = "the parameter's preferences are StartInstanceRefresh's: 90-110 %, 60 s warm-up, auto rollback on both alarms, the checkpoints"
  }
  assert {
    condition = (
      aws_autoscaling_group.this.instance_refresh[0].preferences[0].min_healthy_percentage == jsondecode(aws_ssm_parameter.instance_refresh.value).Preferences.MinHealthyPercentage &&
      aws_autoscaling_group.this.instance_refresh[0].preferences[0].max_healthy_percentage == jsondecode(aws_ssm_parameter.instance_refresh.value).Preferences.MaxHealthyPercentage &&
      aws_autoscaling_group.this.instance_refresh[0].preferences[0].instance_warmup == tostring(jsondecode(aws_ssm_parameter.instance_refresh.value).Preferences.InstanceWarmup) &&
      aws_autoscaling_group.this.instance_refresh[0].preferences[0].checkpoint_delay == tostring(jsondecode(aws_ssm_parameter.instance_refresh.value).Preferences.CheckpointDelay)
    )
    error_message = "the instance_refresh block and the deploy parameter agree"
  }
}

run "deploy_parameter_without_checkpoints" {
  command = plan

  assert {
    condition     = !contains(keys(jsondecode(aws_ssm_parameter.instance_refresh.value).Preferences), "CheckpointPercentages") && !contains(keys(jsondecode(aws_ssm_parameter.instance_refresh.value).Preferences), "CheckpointDelay")
    error_message = "no checkpoints (dev): the parameter has neither CheckpointPercentages nor CheckpointDelay"
  }
}

run "emulator_mode_has_no_instance_refresh" {
  command = plan

  variables {
    instance_refresh_enabled = false
    ami_id                   = "ami-0fedcba9876543210"
  }

  assert {
    condition     = length(aws_autoscaling_group.this.instance_refresh) == 0
    error_message = "instance_refresh_enabled = false removes the block"
  }
  assert {
    condition     = aws_launch_template.this.image_id == "ami-0fedcba9876543210"
    error_message = "an explicit ami_id wins"
  }
}

run "rejects_oversized_user_data" {
  command = plan
  variables {
    extra_settings = { FILLER = format("%05000d", 0) }
  }
  expect_failures = [aws_launch_template.this]
}

# --- one run per validation block -------------------------------------------

run "rejects_bad_name" {
  command = plan
  variables {
    name = "itemsd-a-name-far-too-long-for-an-alb"
  }
  expect_failures = [var.name]
}

run "rejects_bad_environment" {
  command = plan
  variables {
    environment = "Prod Env"
  }
  expect_failures = [var.environment]
}

run "rejects_one_public_subnet" {
  command = plan
  variables {
    public_subnet_ids = ["subnet-0000000000000000a"]
  }
  expect_failures = [var.public_subnet_ids]
}

run "rejects_no_private_subnet" {
  command = plan
  variables {
    private_subnet_ids = []
  }
  expect_failures = [var.private_subnet_ids]
}

run "rejects_bad_ami_id" {
  command = plan
  variables {
    ami_id = "itemsd-1.0"
  }
  expect_failures = [var.ami_id]
}

run "rejects_bad_architecture" {
  command = plan
  variables {
    architecture = "armhf"
  }
  expect_failures = [var.architecture]
}

run "rejects_bad_instance_type" {
  command = plan
  variables {
    instance_type = "small"
  }
  expect_failures = [var.instance_type]
}

run "rejects_tiny_root_volume" {
  command = plan
  variables {
    root_volume_size_gib = 2
  }
  expect_failures = [var.root_volume_size_gib]
}

run "rejects_privileged_app_port" {
  command = plan
  variables {
    app_port = 443
  }
  expect_failures = [var.app_port]
}

run "rejects_secret_in_settings" {
  command = plan
  variables {
    extra_settings = { DB_PASSWORD = "hunter2" }
  }
  expect_failures = [var.extra_settings]
}

run "rejects_bad_interval" {
  command = plan
  variables {
    health_check_interval_seconds = 2
  }
  expect_failures = [var.health_check_interval_seconds]
}

run "rejects_timeout_not_below_interval" {
  command = plan
  variables {
    health_check_timeout_seconds = 10
  }
  expect_failures = [var.health_check_timeout_seconds]
}

run "rejects_bad_healthy_threshold" {
  command = plan
  variables {
    health_check_healthy_threshold = 1
  }
  expect_failures = [var.health_check_healthy_threshold]
}

run "rejects_bad_unhealthy_threshold" {
  command = plan
  variables {
    health_check_unhealthy_threshold = 11
  }
  expect_failures = [var.health_check_unhealthy_threshold]
}

run "rejects_pre_stop_shorter_than_alb_detection" {
  command = plan
  variables {
    shutdown_delay_seconds = 20
  }
  expect_failures = [var.shutdown_delay_seconds]
}

run "rejects_bad_drain_timeout" {
  command = plan
  variables {
    shutdown_timeout_seconds = 0
  }
  expect_failures = [var.shutdown_timeout_seconds]
}

run "rejects_bad_flush_bound" {
  command = plan
  variables {
    log_flush_seconds = 120
  }
  expect_failures = [var.log_flush_seconds]
}

run "rejects_systemd_stop_too_short" {
  command = plan
  variables {
    systemd_timeout_stop_seconds = 65
  }
  expect_failures = [var.systemd_timeout_stop_seconds]
}

run "rejects_deregistration_longer_than_shutdown" {
  command = plan
  variables {
    deregistration_delay_seconds = 300
  }
  expect_failures = [var.deregistration_delay_seconds]
}

run "rejects_bad_idle_timeout" {
  command = plan
  variables {
    idle_timeout_seconds = 0
  }
  expect_failures = [var.idle_timeout_seconds]
}

run "rejects_bad_certificate" {
  command = plan
  variables {
    certificate_arn = "my-cert"
  }
  expect_failures = [var.certificate_arn]
}

run "rejects_old_tls_policy" {
  command = plan
  variables {
    ssl_policy = "ELBSecurityPolicy-2016-08"
  }
  expect_failures = [var.ssl_policy]
}

run "rejects_negative_min_size" {
  command = plan
  variables {
    min_size         = -1
    desired_capacity = 0
  }
  expect_failures = [var.min_size]
}

run "rejects_max_below_min" {
  command = plan
  variables {
    min_size         = 3
    max_size         = 2
    desired_capacity = 3
  }
  expect_failures = [var.max_size]
}

run "rejects_desired_above_max" {
  command = plan
  variables {
    desired_capacity = 5
  }
  expect_failures = [var.desired_capacity]
}

run "rejects_bad_warmup" {
  command = plan
  variables {
    instance_warmup_seconds = -1
  }
  expect_failures = [var.instance_warmup_seconds]
}

run "rejects_bad_grace_period" {
  command = plan
  variables {
    health_check_grace_period_seconds = 10000
  }
  expect_failures = [var.health_check_grace_period_seconds]
}

run "rejects_bad_min_healthy" {
  command = plan
  variables {
    instance_refresh_min_healthy_percentage = 120
  }
  expect_failures = [var.instance_refresh_min_healthy_percentage]
}

run "rejects_unsorted_checkpoints" {
  command = plan
  variables {
    instance_refresh_checkpoints = [50, 20]
  }
  expect_failures = [var.instance_refresh_checkpoints]
}

run "rejects_bad_checkpoint_delay" {
  command = plan
  variables {
    instance_refresh_checkpoint_delay_seconds = -1
  }
  expect_failures = [var.instance_refresh_checkpoint_delay_seconds]
}

run "rejects_too_many_rollback_alarms" {
  command = plan
  variables {
    rollback_alarm_names = [for i in range(11) : "alarm-${i}"]
  }
  expect_failures = [var.rollback_alarm_names]
}

run "rejects_bad_cpu_target" {
  command = plan
  variables {
    cpu_target_percent = 100
  }
  expect_failures = [var.cpu_target_percent]
}

run "rejects_bad_requests_target" {
  command = plan
  variables {
    requests_per_target = 0
  }
  expect_failures = [var.requests_per_target]
}

run "rejects_checkpoints_not_ending_at_100" {
  command = plan
  variables {
    instance_refresh_checkpoints = [50]
  }
  expect_failures = [var.instance_refresh_checkpoints]
}

run "rejects_checkpoint_zero" {
  command = plan
  variables {
    instance_refresh_checkpoints = [0, 100]
  }
  expect_failures = [var.instance_refresh_checkpoints]
}

run "rejects_repeated_checkpoint" {
  command = plan
  variables {
    instance_refresh_checkpoints = [50, 50, 100]
  }
  expect_failures = [var.instance_refresh_checkpoints]
}

run "rejects_redefined_setting" {
  command = plan
  variables {
    extra_settings = { DB_POOL_MAX_CONN = "500" }
  }
  expect_failures = [var.extra_settings]
}

run "rejects_db_iam_user_in_extra_settings" {
  command = plan
  variables {
    extra_settings = { DB_IAM_USER = "itemsd_admin" }
  }
  expect_failures = [var.extra_settings]
}

run "rejects_bad_db_iam_user" {
  command = plan
  variables {
    db_iam_user = "itemsd app"
  }
  expect_failures = [var.db_iam_user]
}

run "rejects_db_iam_user_behind_the_proxy" {
  command = plan
  variables {
    db_iam_user = "itemsd_app"
    db_host     = "itemsd-test-proxy.proxy-abcdefghijkl.eu-north-1.rds.amazonaws.com"
  }
  expect_failures = [var.db_iam_user]
}

run "rejects_bad_root_cert_path" {
  command = plan
  variables {
    db_ssl_root_cert_path = "rds-global-bundle.pem"
  }
  expect_failures = [var.db_ssl_root_cert_path]
}

run "rejects_bad_pool_max" {
  command = plan
  variables {
    db_pool_max_connections = 1
  }
  expect_failures = [var.db_pool_max_connections]
}

run "rejects_small_headroom" {
  command = plan
  variables {
    db_connection_headroom = 2
  }
  expect_failures = [var.db_connection_headroom]
}

run "rejects_bad_db_max_connections" {
  command = plan
  variables {
    db_max_connections = 0
  }
  expect_failures = [var.db_max_connections]
}

# --- the connection budget ----------------------------------------------------

run "connection_budget_fits" {
  command = plan

  # 3 instances (ceil(3 x 110 %) = 4) x 10 + 10 = 50 <= 78
  assert {
    condition     = output.connection_budget.instances == 4 && output.connection_budget.connections == 50
    error_message = "the budget counts ceil(max_size x 110 %) instances with full pools plus the headroom"
  }
}

run "rejects_connection_budget_overrun" {
  command = plan
  variables {
    # ceil(7 x 1.1) = 8 instances x 10 + 10 = 90 > 78
    max_size = 7
  }
  expect_failures = [aws_autoscaling_group.this]
}

run "rejects_pool_too_large_for_the_class" {
  command = plan
  variables {
    # 4 x 20 + 10 = 90 > 78
    db_pool_max_connections = 20
  }
  expect_failures = [aws_autoscaling_group.this]
}

run "rejects_systemd_stop_that_cuts_the_second_flush" {
  command = plan
  variables {
    # 25 + 30 + 20 (metrics 10 s, then logs 10 s) = 75: 75 s would kill the log flush
    systemd_timeout_stop_seconds = 75
  }
  expect_failures = [var.systemd_timeout_stop_seconds]
}
