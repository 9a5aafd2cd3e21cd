output "web_acl_arn" {
  description = "ARN of the web ACL."
  value       = aws_wafv2_web_acl.this.arn
}

output "web_acl_name" {
  description = "Name of the web ACL (also its metric name: the WebACL dimension of AWS/WAFV2)."
  value       = aws_wafv2_web_acl.this.name
}

output "rules" {
  description = "The web ACL's rules by priority (\"0\", \"10\", ...): name and action."
  value = {
    for r in aws_wafv2_web_acl.this.rule : tostring(r.priority) => {
      name = r.name
      action = (
        r.name == local.rate_rule ? "block 429 above ${var.rate_limit} requests per ${var.rate_limit_window_seconds} s per IP" :
        length(r.action) > 0 ? "allow" : "block (managed rule group)"
      )
    }
  }
}

output "log_group_name" {
  description = "The WAF log group (aws-waf-logs-<name>)."
  value       = aws_cloudwatch_log_group.this.name
}

output "alarm_names" {
  description = "The blocked-request alarms."
  value       = [aws_cloudwatch_metric_alarm.blocked_requests.alarm_name, aws_cloudwatch_metric_alarm.rate_limited.alarm_name]
}
