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
      strcontains(output.user_data, "AWS_REGION=eu-north-1\n")
    )
    error_message = "user data carries the settings itemsd reads"
  }
  assert {
    condition     = !strcontains(upper(output.user_data), "PASSWORD") && !strcontains(output.user_data, "runcmd")
    error_message = "no secret and no script in user data"
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
    error_message = "deregistration delay (60) <= pre-stop + drain + flush (65)"
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
}

run "https_with_redirect_when_certificate_given" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:eu-north-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = aws_lb_listener.http.default_action[0].type == "redirect" && aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS"
    error_message = "port 80 redirects to HTTPS"
  }
  assert {
    condition     = aws_lb_listener.https[0].protocol == "HTTPS" && aws_lb_listener.https[0].ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    error_message = "HTTPS with a TLS 1.3/1.2 policy"
  }
}

run "group_refreshes_safely" {
  command = plan

  variables {
    instance_refresh_checkpoints = [50]
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
      tolist(aws_autoscaling_group.this.instance_refresh[0].preferences[0].checkpoint_percentages) == tolist([50])
    )
    error_message = "instance refresh: 90 % healthy, auto rollback on the 5xx and unhealthy-host alarms, checkpoint at 50 %"
  }
  assert {
    condition     = aws_autoscaling_policy.cpu.target_tracking_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ASGAverageCPUUtilization"
    error_message = "target tracking on CPU"
  }
  assert {
    condition     = aws_autoscaling_policy.requests.target_tracking_configuration[0].predefined_metric_specification[0].resource_label == "app/itemsd-test-alb/0123456789abcdef/targetgroup/itemsd-test-tg/0123456789abcdef"
    error_message = "target tracking on ALB requests per target"
  }
  assert {
    condition     = length(aws_autoscaling_lifecycle_hook.terminating) == 0
    error_message = "no lifecycle hook unless asked"
  }
}

run "emulator_mode_has_no_instance_refresh" {
  command = plan

  variables {
    instance_refresh_enabled = false
    ami_id                   = "ami-0fedcba9876543210"
    lifecycle_hook_enabled   = true
  }

  assert {
    condition     = length(aws_autoscaling_group.this.instance_refresh) == 0
    error_message = "instance_refresh_enabled = false removes the block"
  }
  assert {
    condition     = aws_launch_template.this.image_id == "ami-0fedcba9876543210"
    error_message = "an explicit ami_id wins"
  }
  assert {
    condition     = aws_autoscaling_lifecycle_hook.terminating[0].lifecycle_transition == "autoscaling:EC2_INSTANCE_TERMINATING" && aws_autoscaling_lifecycle_hook.terminating[0].heartbeat_timeout > 65
    error_message = "termination hook outlasts pre-stop + drain + flush"
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

run "rejects_short_lifecycle_heartbeat" {
  command = plan
  variables {
    lifecycle_hook_enabled           = true
    lifecycle_hook_heartbeat_seconds = 60
  }
  expect_failures = [var.lifecycle_hook_heartbeat_seconds]
}
