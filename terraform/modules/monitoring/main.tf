# Monitoring: one SNS topic every alarm notifies, itemsd's log group, a metric
# filter that matches its JSON logs, the alarms on the ALB, the group and
# itemsd's own metrics, a dashboard with real widgets, and a monthly budget.
# (The RDS alarms live in the database module and notify the same topic.)

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id     = data.aws_caller_identity.current.account_id
  partition      = data.aws_partition.current.partition
  region         = data.aws_region.current.name
  log_group_name = coalesce(var.log_group_name, "/itemsd/${var.name}")
  topic_arns     = [aws_sns_topic.this.arn]
  budget_emails  = var.budget_emails != null ? var.budget_emails : var.alarm_emails

  alb_dims  = { LoadBalancer = var.alb_arn_suffix }
  tg_dims   = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  asg_dims  = { AutoScalingGroupName = var.autoscaling_group_name }
  db_dims   = { DBInstanceIdentifier = var.db_instance_identifier }
  ns        = var.metrics_namespace
  asg       = var.autoscaling_group_name
  alb       = var.alb_arn_suffix
  tg        = var.target_group_arn_suffix
  db        = var.db_instance_identifier
  error_sql = "SOURCE '${local.log_group_name}' | fields @timestamp, level, msg, @logStream | filter level = \"ERROR\" | sort @timestamp desc | limit 50"
}

# --- encryption for the log groups and the topic -----------------------------

resource "aws_kms_key" "this" {
  description             = "${var.name}: CloudWatch log groups and the alarm topic"
  deletion_window_in_days = 30
  enable_key_rotation     = true

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountIAMPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsInThisAccount"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*" }
        }
      },
      {
        Sid       = "CloudWatchAlarmsPublishToTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })

  tags = merge(var.tags, { Name = "${var.name}-monitoring" })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-monitoring"
  target_key_id = aws_kms_key.this.key_id
}

# --- notifications ----------------------------------------------------------

resource "aws_sns_topic" "this" {
  name              = "${var.name}-alarms"
  display_name      = "itemsd ${var.name} alarms"
  kms_master_key_id = aws_kms_key.this.arn

  tags = var.tags
}

resource "aws_sns_topic_policy" "this" {
  arn = aws_sns_topic.this.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "OwnerManages"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"]
        Resource  = aws_sns_topic.this.arn
      },
      {
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "SNS:Publish"
        Resource  = aws_sns_topic.this.arn
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- itemsd's logs ----------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable: 14 days in dev, 90 in prod; long-term audit data is not in application logs.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn

  tags = var.tags
}

# itemsd logs one JSON object per line with "level": "INFO" | "WARN" | "ERROR".
resource "aws_cloudwatch_log_metric_filter" "errors" {
  name           = "${var.name}-errors"
  log_group_name = aws_cloudwatch_log_group.this.name
  pattern        = "{ $.level = \"ERROR\" }"

  metric_transformation {
    name          = "ErrorLogCount"
    namespace     = var.metrics_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "warnings" {
  name           = "${var.name}-warnings"
  log_group_name = aws_cloudwatch_log_group.this.name
  pattern        = "{ $.level = \"WARN\" }"

  metric_transformation {
    name          = "WarnLogCount"
    namespace     = var.metrics_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

# --- alarms: every one notifies the topic on ALARM and on OK ---------------

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${var.name}-unhealthy-hosts"
  alarm_description   = "At least one itemsd target failed its /health check for 3 minutes (also rolls back an instance refresh)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.tg_dims
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic_arns
  ok_actions          = local.topic_arns

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "target_5xx" {
  alarm_name          = "${var.name}-target-5xx"
  alarm_description   = "itemsd answered more than ${var.target_5xx_threshold} 5xx a minute in 3 of 5 minutes (also rolls back an instance refresh)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = local.tg_dims
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.target_5xx_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic_arns
  ok_actions          = local.topic_arns

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "response_time_p99" {
  alarm_name          = "${var.name}-response-time-p99"
  alarm_description   = "p99 target response time above ${var.response_time_p99_seconds} s in 3 of 5 minutes"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.tg_dims
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.response_time_p99_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic_arns
  ok_actions          = local.topic_arns

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "app_errors" {
  alarm_name          = "${var.name}-app-errors"
  alarm_description   = "More than ${var.app_errors_threshold} ERROR log lines from itemsd in 5 minutes"
  namespace           = var.metrics_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.errors.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.app_errors_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic_arns
  ok_actions          = local.topic_arns

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "host_memory" {
  alarm_name          = "${var.name}-host-memory"
  alarm_description   = "An itemsd host uses more than ${var.host_memory_percent} % of its memory for 10 minutes"
  namespace           = var.metrics_namespace
  metric_name         = "mem_used_percent"
  dimensions          = local.asg_dims
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.host_memory_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic_arns
  ok_actions          = local.topic_arns

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "host_disk" {
  alarm_name          = "${var.name}-host-disk"
  alarm_description   = "An itemsd host's disk is more than ${var.host_disk_percent} % full"
  namespace           = var.metrics_namespace
  metric_name         = "disk_used_percent"
  dimensions          = local.asg_dims
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.host_disk_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic_arns
  ok_actions          = local.topic_arns

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "log_events_dropped" {
  alarm_name          = "${var.name}-log-events-dropped"
  alarm_description   = "itemsd dropped log events it could not ship to CloudWatch Logs"
  namespace           = var.metrics_namespace
  metric_name         = "LogEventsDropped"
  dimensions          = local.asg_dims
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic_arns
  ok_actions          = local.topic_arns

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "db_probe_failures" {
  alarm_name          = "${var.name}-db-probe-failures"
  alarm_description   = "itemsd's background database probe kept failing for 5 minutes"
  namespace           = var.metrics_namespace
  metric_name         = "DbProbeFailures"
  dimensions          = local.asg_dims
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic_arns
  ok_actions          = local.topic_arns

  tags = var.tags
}

# --- dashboard --------------------------------------------------------------

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      { type = "text", x = 0, y = 0, width = 24, height = 1, properties = { markdown = "## itemsd ${var.name}: ALB, Auto Scaling group, RDS, application and hosts" } },

      # ALB
      { type = "metric", x = 0, y = 1, width = 8, height = 6, properties = {
        title = "ALB requests and errors", region = local.region, view = "timeSeries", stat = "Sum", period = 60,
        metrics = [
          ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", local.alb],
          ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", local.alb, "TargetGroup", local.tg],
          ["AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", "LoadBalancer", local.alb, "TargetGroup", local.tg],
          ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", local.alb],
        ]
      } },
      { type = "metric", x = 8, y = 1, width = 8, height = 6, properties = {
        title = "Target response time (s)", region = local.region, view = "timeSeries", period = 60,
        metrics = [
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", local.alb, "TargetGroup", local.tg, { stat = "p50", label = "p50" }],
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", local.alb, "TargetGroup", local.tg, { stat = "p95", label = "p95" }],
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", local.alb, "TargetGroup", local.tg, { stat = "p99", label = "p99" }],
        ]
      } },
      { type = "metric", x = 16, y = 1, width = 8, height = 6, properties = {
        title = "Healthy and unhealthy targets", region = local.region, view = "timeSeries", stat = "Maximum", period = 60,
        metrics = [
          ["AWS/ApplicationELB", "HealthyHostCount", "LoadBalancer", local.alb, "TargetGroup", local.tg],
          ["AWS/ApplicationELB", "UnHealthyHostCount", "LoadBalancer", local.alb, "TargetGroup", local.tg],
        ]
      } },

      # Auto Scaling group
      { type = "metric", x = 0, y = 7, width = 12, height = 6, properties = {
        title = "Auto Scaling group", region = local.region, view = "timeSeries", stat = "Average", period = 60,
        metrics = [
          ["AWS/AutoScaling", "GroupDesiredCapacity", "AutoScalingGroupName", local.asg],
          ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", local.asg],
          ["AWS/AutoScaling", "GroupPendingInstances", "AutoScalingGroupName", local.asg],
          ["AWS/AutoScaling", "GroupTerminatingInstances", "AutoScalingGroupName", local.asg],
        ]
      } },
      { type = "metric", x = 12, y = 7, width = 12, height = 6, properties = {
        title = "Group CPU (%)", region = local.region, view = "timeSeries", period = 60,
        metrics = [
          ["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", local.asg, { stat = "Average", label = "average" }],
          ["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", local.asg, { stat = "Maximum", label = "maximum" }],
        ]
      } },

      # RDS
      { type = "metric", x = 0, y = 13, width = 8, height = 6, properties = {
        title = "RDS CPU (%) and connections", region = local.region, view = "timeSeries", stat = "Average", period = 60,
        metrics = [
          ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", local.db],
          ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", local.db, { yAxis = "right" }],
        ]
      } },
      { type = "metric", x = 8, y = 13, width = 8, height = 6, properties = {
        title = "RDS free storage and memory (bytes)", region = local.region, view = "timeSeries", stat = "Minimum", period = 300,
        metrics = [
          ["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", local.db],
          ["AWS/RDS", "FreeableMemory", "DBInstanceIdentifier", local.db],
        ]
      } },
      { type = "metric", x = 16, y = 13, width = 8, height = 6, properties = {
        title = "RDS latency (s)", region = local.region, view = "timeSeries", stat = "Average", period = 60,
        metrics = [
          ["AWS/RDS", "ReadLatency", "DBInstanceIdentifier", local.db],
          ["AWS/RDS", "WriteLatency", "DBInstanceIdentifier", local.db],
        ]
      } },

      # itemsd's own metrics (group aggregates carry only AutoScalingGroupName)
      { type = "metric", x = 0, y = 19, width = 8, height = 6, properties = {
        title = "itemsd requests and 5xx", region = local.region, view = "timeSeries", stat = "Sum", period = 60,
        metrics = [
          [local.ns, "RequestCount", "AutoScalingGroupName", local.asg],
          [local.ns, "Http5xxCount", "AutoScalingGroupName", local.asg],
          [local.ns, "ErrorLogCount"],
          [local.ns, "WarnLogCount"],
        ]
      } },
      { type = "metric", x = 8, y = 19, width = 8, height = 6, properties = {
        title = "itemsd latency (ms)", region = local.region, view = "timeSeries", period = 60,
        metrics = [
          [local.ns, "Latency", "AutoScalingGroupName", local.asg, { stat = "p50", label = "p50" }],
          [local.ns, "Latency", "AutoScalingGroupName", local.asg, { stat = "p99", label = "p99" }],
        ]
      } },
      { type = "metric", x = 16, y = 19, width = 8, height = 6, properties = {
        title = "itemsd log shipping and DB probe", region = local.region, view = "timeSeries", stat = "Sum", period = 60,
        metrics = [
          [local.ns, "LogEventsDropped", "AutoScalingGroupName", local.asg],
          [local.ns, "DbProbeFailures", "AutoScalingGroupName", local.asg],
        ]
      } },

      # hosts
      { type = "metric", x = 0, y = 25, width = 12, height = 6, properties = {
        title = "Host memory, swap and disk used (%)", region = local.region, view = "timeSeries", stat = "Maximum", period = 60,
        metrics = [
          [local.ns, "mem_used_percent", "AutoScalingGroupName", local.asg],
          [local.ns, "swap_used_percent", "AutoScalingGroupName", local.asg],
          [local.ns, "disk_used_percent", "AutoScalingGroupName", local.asg],
        ]
      } },
      { type = "metric", x = 12, y = 25, width = 12, height = 6, properties = {
        title = "Host CPU (%)", region = local.region, view = "timeSeries", stat = "Average", period = 60,
        metrics = [
          [local.ns, "cpu_usage_user", "AutoScalingGroupName", local.asg],
          [local.ns, "cpu_usage_system", "AutoScalingGroupName", local.asg],
          [local.ns, "cpu_usage_iowait", "AutoScalingGroupName", local.asg],
        ]
      } },

      # alarms and recent errors
      { type = "alarm", x = 0, y = 31, width = 24, height = 3, properties = {
        title = "Alarms",
        alarms = [
          aws_cloudwatch_metric_alarm.unhealthy_hosts.arn,
          aws_cloudwatch_metric_alarm.target_5xx.arn,
          aws_cloudwatch_metric_alarm.response_time_p99.arn,
          aws_cloudwatch_metric_alarm.app_errors.arn,
          aws_cloudwatch_metric_alarm.host_memory.arn,
          aws_cloudwatch_metric_alarm.host_disk.arn,
          aws_cloudwatch_metric_alarm.log_events_dropped.arn,
          aws_cloudwatch_metric_alarm.db_probe_failures.arn,
        ]
      } },
      { type = "log", x = 0, y = 34, width = 24, height = 6, properties = {
        title = "Recent ERROR log lines", region = local.region, view = "table", query = local.error_sql
      } },
    ]
  })
}

# --- cost -------------------------------------------------------------------

resource "aws_budgets_budget" "this" {
  count = var.budget_limit_usd > 0 ? 1 : 0

  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = format("%.2f", var.budget_limit_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 80
    threshold_type             = "PERCENTAGE"
    notification_type          = "ACTUAL"
    subscriber_email_addresses = local.budget_emails
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    notification_type          = "FORECASTED"
    subscriber_email_addresses = local.budget_emails
  }

  tags = var.tags
}
