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
