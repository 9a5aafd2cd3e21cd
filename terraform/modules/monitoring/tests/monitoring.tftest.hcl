# Plan-only tests of the monitoring module against a mocked AWS provider.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "eu-north-1"
    }
  }
  mock_resource "aws_sns_topic" {
    override_during = plan
    defaults = {
      arn = "arn:aws:sns:eu-north-1:123456789012:itemsd-test-alarms"
    }
  }
  mock_resource "aws_kms_key" {
    override_during = plan
    defaults = {
      arn    = "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      key_id = "11111111-2222-3333-4444-555555555555"
    }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    override_during = plan
    defaults = {
      arn = "arn:aws:cloudwatch:eu-north-1:123456789012:alarm:itemsd-test"
    }
  }
}

variables {
  name                    = "itemsd-test"
  alarm_emails            = ["oncall@example.com"]
  alb_arn_suffix          = "app/itemsd-test-alb/0123456789abcdef"
  target_group_arn_suffix = "targetgroup/itemsd-test-tg/0123456789abcdef"
  autoscaling_group_name  = "itemsd-test"
  db_instance_identifier  = "itemsd-test-db"
}

run "every_alarm_notifies_the_topic" {
  command = plan

  assert {
    condition = alltrue([
      for a in [
        aws_cloudwatch_metric_alarm.unhealthy_hosts,
        aws_cloudwatch_metric_alarm.target_5xx,
        aws_cloudwatch_metric_alarm.response_time_p99,
        aws_cloudwatch_metric_alarm.app_errors,
        aws_cloudwatch_metric_alarm.host_memory,
        aws_cloudwatch_metric_alarm.host_disk,
        aws_cloudwatch_metric_alarm.log_events_dropped,
        aws_cloudwatch_metric_alarm.db_probe_failures,
      ] : tolist(a.alarm_actions) == tolist(["arn:aws:sns:eu-north-1:123456789012:itemsd-test-alarms"]) && length(a.ok_actions) == 1
    ])
    error_message = "every alarm notifies the SNS topic"
  }
  assert {
    condition     = aws_sns_topic_subscription.email["oncall@example.com"].protocol == "email"
    error_message = "email subscription to the topic"
  }
  assert {
    condition     = aws_sns_topic.this.kms_master_key_id == "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    error_message = "the topic is encrypted"
  }
}

run "alarms_watch_the_right_metrics" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.response_time_p99.extended_statistic == "p99" && aws_cloudwatch_metric_alarm.response_time_p99.metric_name == "TargetResponseTime"
    error_message = "response time alarm on p99"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.target_5xx.metric_name == "HTTPCode_Target_5XX_Count" && aws_cloudwatch_metric_alarm.target_5xx.dimensions.TargetGroup == "targetgroup/itemsd-test-tg/0123456789abcdef"
    error_message = "5xx alarm on the target group"
  }
  assert {
    condition = alltrue([
      for a in [aws_cloudwatch_metric_alarm.host_memory, aws_cloudwatch_metric_alarm.host_disk, aws_cloudwatch_metric_alarm.log_events_dropped] :
      a.namespace == "Itemsd" && a.dimensions == tomap({ AutoScalingGroupName = "itemsd-test" })
    ])
    error_message = "host and log-shipping alarms read itemsd's group aggregates (AutoScalingGroupName only)"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.host_memory.metric_name == "mem_used_percent" && aws_cloudwatch_metric_alarm.host_disk.metric_name == "disk_used_percent"
    error_message = "host metrics use the CloudWatch agent names"
  }
}

run "error_filter_matches_json_logs" {
  command = plan

  assert {
    condition     = aws_cloudwatch_log_metric_filter.errors.pattern == "{ $.level = \"ERROR\" }"
    error_message = "the error filter must match itemsd's JSON level field"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.app_errors.metric_name == aws_cloudwatch_log_metric_filter.errors.metric_transformation[0].name && aws_cloudwatch_metric_alarm.app_errors.namespace == aws_cloudwatch_log_metric_filter.errors.metric_transformation[0].namespace
    error_message = "the application-errors alarm watches the filter's metric"
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/itemsd/itemsd-test" && aws_cloudwatch_log_group.this.retention_in_days == 30 && aws_cloudwatch_log_group.this.kms_key_id != null
    error_message = "log group with retention and KMS"
  }
}

run "dashboard_has_real_widgets" {
  command = plan

  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) >= 12
    error_message = "the dashboard has widgets"
  }
  assert {
    condition = alltrue([
      for ns in ["AWS/ApplicationELB", "AWS/AutoScaling", "AWS/RDS", "Itemsd"] :
      anytrue([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : anytrue([for m in try(w.properties.metrics, []) : m[0] == ns])])
    ])
    error_message = "ALB, Auto Scaling, RDS and itemsd metrics are all on the dashboard"
  }
}

run "budget_alerts" {
  command = plan

  assert {
    condition     = aws_budgets_budget.this[0].time_unit == "MONTHLY" && aws_budgets_budget.this[0].limit_amount == "50.00" && length(aws_budgets_budget.this[0].notification) == 2
    error_message = "monthly budget with two notifications"
  }
}

run "budget_off" {
  command = plan

  variables {
    budget_limit_usd = 0
    alarm_emails     = []
  }

  assert {
    condition     = length(aws_budgets_budget.this) == 0
    error_message = "budget_limit_usd = 0 turns the budget off"
  }
}

# --- one run per validation block -------------------------------------------

run "rejects_bad_name" {
  command = plan
  variables {
    name = "ITEMSD"
  }
  expect_failures = [var.name]
}

run "rejects_bad_email" {
  command = plan
  variables {
    alarm_emails = ["not-an-address"]
  }
  expect_failures = [var.alarm_emails]
}

run "rejects_bad_log_group_name" {
  command = plan
  variables {
    log_group_name = "itemsd logs!"
  }
  expect_failures = [var.log_group_name]
}

run "rejects_bad_retention" {
  command = plan
  variables {
    log_retention_days = 31
  }
  expect_failures = [var.log_retention_days]
}

run "rejects_aws_namespace" {
  command = plan
  variables {
    metrics_namespace = "AWS/EC2"
  }
  expect_failures = [var.metrics_namespace]
}

run "rejects_negative_5xx_threshold" {
  command = plan
  variables {
    target_5xx_threshold = -1
  }
  expect_failures = [var.target_5xx_threshold]
}

run "rejects_bad_p99" {
  command = plan
  variables {
    response_time_p99_seconds = 0
  }
  expect_failures = [var.response_time_p99_seconds]
}

run "rejects_negative_error_threshold" {
  command = plan
  variables {
    app_errors_threshold = -1
  }
  expect_failures = [var.app_errors_threshold]
}

run "rejects_bad_memory_percent" {
  command = plan
  variables {
    host_memory_percent = 100
  }
  expect_failures = [var.host_memory_percent]
}

run "rejects_bad_disk_percent" {
  command = plan
  variables {
    host_disk_percent = 0
  }
  expect_failures = [var.host_disk_percent]
}

run "rejects_budget_without_recipients" {
  command = plan
  variables {
    alarm_emails = []
  }
  expect_failures = [var.budget_limit_usd]
}

run "rejects_bad_budget_email" {
  command = plan
  variables {
    budget_emails = ["finance"]
  }
  expect_failures = [var.budget_emails]
}
