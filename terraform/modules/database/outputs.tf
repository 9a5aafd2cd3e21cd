output "db_instance_identifier" {
  description = "RDS instance identifier (the DBInstanceIdentifier metric dimension)."
  value       = aws_db_instance.this.identifier
}

output "db_instance_arn" {
  description = "RDS instance ARN."
  value       = aws_db_instance.this.arn
}

output "address" {
  description = "DNS name of the instance (follows a Multi-AZ failover)."
  value       = aws_db_instance.this.address
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
