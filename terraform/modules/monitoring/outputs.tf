output "sns_topic_arn" {
  description = "ARN of the alarm topic; pass it to the database module's alarm_actions."
  value       = aws_sns_topic.this.arn
}

output "kms_key_arn" {
  description = "KMS key encrypting the log groups and the topic (also for the network module's flow logs)."
  value       = aws_kms_key.this.arn
}

output "log_group_name" {
  description = "itemsd's log group (CLOUDWATCH_LOG_GROUP)."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of itemsd's log group, without \":*\" (for the iam module)."
  value       = aws_cloudwatch_log_group.this.arn
}

output "unhealthy_hosts_alarm_name" {
  description = "Name of the unhealthy-hosts alarm (instance refresh rollback)."
  value       = aws_cloudwatch_metric_alarm.unhealthy_hosts.alarm_name
}

output "target_5xx_alarm_name" {
  description = "Name of the target-5xx alarm (instance refresh rollback)."
  value       = aws_cloudwatch_metric_alarm.target_5xx.alarm_name
}

output "alarm_names" {
  description = "Names of every alarm of this module."
  value = [
    aws_cloudwatch_metric_alarm.unhealthy_hosts.alarm_name,
    aws_cloudwatch_metric_alarm.target_5xx.alarm_name,
    aws_cloudwatch_metric_alarm.response_time_p99.alarm_name,
    aws_cloudwatch_metric_alarm.app_errors.alarm_name,
    aws_cloudwatch_metric_alarm.host_memory.alarm_name,
    aws_cloudwatch_metric_alarm.host_disk.alarm_name,
    aws_cloudwatch_metric_alarm.log_events_dropped.alarm_name,
    aws_cloudwatch_metric_alarm.db_probe_failures.alarm_name,
  ]
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "dashboard_url" {
  description = "Console URL of the dashboard."
  value       = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards:name=${aws_cloudwatch_dashboard.this.dashboard_name}"
}
