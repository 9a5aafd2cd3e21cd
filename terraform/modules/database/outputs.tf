output "db_instance_identifier" {
  description = "RDS instance identifier (the DBInstanceIdentifier metric dimension)."
  value       = aws_db_instance.this.identifier
}

output "db_instance_arn" {
  description = "RDS instance ARN."
  value       = aws_db_instance.this.arn
}

output "resource_id" {
  description = "The instance's DbiResourceId (db-...): IAM database authentication names it in the dbuser ARN, arn:<partition>:rds-db:<region>:<account>:dbuser:<resource_id>/<user>. It stays the same across a Multi-AZ failover and a rename."
  value       = aws_db_instance.this.resource_id
}

output "app_username" {
  description = "PostgreSQL role itemsd serves as with IAM tokens (DB_IAM_USER); itemsd migrate creates it. Not usable through the RDS Proxy (docs/terraform.md)."
  value       = var.app_username
}

output "address" {
  description = "DNS name of the instance (follows a Multi-AZ failover)."
  value       = aws_db_instance.this.address
}

output "connect_address" {
  description = "Where itemsd connects: the RDS Proxy endpoint when enable_proxy, else the instance's address (also the connection secret's host)."
  value       = local.connect_address
}

output "proxy_endpoint" {
  description = "Endpoint of the RDS Proxy, or null."
  value       = try(aws_db_proxy.this[0].endpoint, null)
}

output "instance_class" {
  description = "The instance class (named by the connection budget check)."
  value       = var.instance_class
}

output "max_connections" {
  description = "max_connections of the instance: max_connections_override, or the conservative estimate of RDS's default for the class."
  value       = local.max_connections
}

output "connection_limit" {
  description = "Connections the application may hold in total: max_connections, or the proxy's share of it when enable_proxy (itemsd's sessions pin, so the proxy does not multiply them)."
  value       = local.connection_limit
}

output "log_group_names" {
  description = "The log groups RDS exports to, by log type."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "db_name" {
  description = "Database name."
  value       = var.db_name
}

output "connection_secret_arn" {
  description = "ARN of the connection secret (itemsd's DB_SECRET_ARN)."
  value       = aws_secretsmanager_secret.connection.arn
}

output "master_user_secret_arn" {
  description = "ARN of the RDS-managed secret holding the master username and password."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "kms_key_arn" {
  description = "KMS key encrypting storage and both secrets (the instance role may decrypt through Secrets Manager)."
  value       = aws_kms_key.this.arn
}

output "alarm_names" {
  description = "Names of the RDS alarms."
  value = [
    aws_cloudwatch_metric_alarm.cpu.alarm_name,
    aws_cloudwatch_metric_alarm.storage.alarm_name,
    aws_cloudwatch_metric_alarm.memory.alarm_name,
    aws_cloudwatch_metric_alarm.connections.alarm_name,
  ]
}

output "performance_insights_enabled" {
  description = "Whether Performance Insights is on (false where the instance class lacks it)."
  value       = local.performance_insights
}
