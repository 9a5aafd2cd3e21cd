output "service_url" {
  description = "itemsd through the ALB."
  value       = module.compute.service_url
}

output "alb_dns_name" {
  description = "DNS name of the ALB."
  value       = module.compute.alb_dns_name
}

output "autoscaling_group_name" {
  description = "Auto Scaling group (for aws autoscaling start-instance-refresh)."
  value       = module.compute.autoscaling_group_name
}

output "ami_id" {
  description = "AMI the launch template runs."
  value       = module.compute.ami_id
}

output "dashboard_url" {
  description = "CloudWatch dashboard."
  value       = module.monitoring.dashboard_url
}

output "log_group_name" {
  description = "itemsd's log group."
  value       = module.monitoring.log_group_name
}

output "db_secret_arn" {
  description = "Connection secret (DB_SECRET_ARN)."
  value       = module.database.connection_secret_arn
}

output "db_iam_user" {
  description = "PostgreSQL role itemsd serves as with IAM auth tokens (DB_IAM_USER), or null behind the RDS Proxy."
  value       = local.db_iam_user
}

output "db_user_arn" {
  description = "The dbuser ARN the instance role may rds-db:connect to, or null behind the RDS Proxy."
  value       = module.iam.db_user_arn
}

output "db_address" {
  description = "RDS endpoint address."
  value       = module.database.address
}

output "alarm_topic_arn" {
  description = "SNS topic all alarms notify."
  value       = module.monitoring.sns_topic_arn
}

output "vpc_id" {
  description = "VPC ID."
  value       = module.network.vpc_id
}

output "ssm_log_group_name" {
  description = "Session transcripts and Run Command output."
  value       = module.ssm.log_group_name
}

output "session_kms_key_arn" {
  description = "Key of Session Manager's session data: engineers need kms:GenerateDataKey on it to open a session."
  value       = module.ssm.session_kms_key_arn
}

output "fleet_commands" {
  description = "The send-command line that asks every instance of the group, by command (status, check); answers in list-command-invocations and the SSM log group."
  value = {
    for k, d in module.ssm.command_document_names :
    k => "aws ssm send-command --region ${var.region} --document-name ${d} --targets Key=tag:aws:autoscaling:groupName,Values=${module.compute.autoscaling_group_name} --max-concurrency 100% --max-errors 100% --cloud-watch-output-config CloudWatchOutputEnabled=true,CloudWatchLogGroupName=${module.ssm.log_group_name}"
  }
}

output "waf_web_acl_arn" {
  description = "The WAF web ACL in front of the ALB, or null without enable_waf."
  value       = try(module.waf[0].web_acl_arn, null)
}
