output "alb_security_group_id" {
  description = "Security group of the ALB."
  value       = aws_security_group.alb.id
}

output "app_security_group_id" {
  description = "Security group of the itemsd instances."
  value       = aws_security_group.app.id
}

output "db_security_group_id" {
  description = "Security group of the RDS instance."
  value       = aws_security_group.db.id
}

output "endpoints_security_group_id" {
  description = "Security group of the interface VPC endpoints."
  value       = aws_security_group.endpoints.id
}

output "proxy_security_group_id" {
  description = "Security group of the RDS Proxy, or null without enable_db_proxy."
  value       = try(aws_security_group.proxy[0].id, null)
}
