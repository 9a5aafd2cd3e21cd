output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "azs" {
  description = "Availability zones the subnets are in, in subnet order."
  value       = var.azs
}

output "public_subnet_ids" {
  description = "Public subnet IDs (ALB, NAT gateways)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnet IDs (itemsd instances)."
  value       = aws_subnet.private[*].id
}

output "database_subnet_ids" {
  description = "Database subnet IDs (RDS); no route leaves the VPC from them."
  value       = aws_subnet.database[*].id
}

output "public_subnet_cidrs" {
  description = "CIDRs of the public subnets."
  value       = local.public_cidrs
}

output "private_subnet_cidrs" {
  description = "CIDRs of the private subnets."
  value       = local.private_cidrs
}

output "database_subnet_cidrs" {
  description = "CIDRs of the database subnets."
  value       = local.database_cidrs
}

output "nat_gateway_ids" {
  description = "NAT gateway IDs (empty when enable_nat_gateway is false)."
  value       = aws_nat_gateway.this[*].id
}

output "private_route_table_ids" {
  description = "Route tables of the private subnets."
  value       = aws_route_table.private[*].id
}

output "database_route_table_id" {
  description = "Route table of the database subnets."
  value       = aws_route_table.database.id
}

output "s3_endpoint_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint, for security group egress rules."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}

output "interface_endpoint_ids" {
  description = "Interface endpoint IDs by service short name."
  value       = { for k, v in aws_vpc_endpoint.interface : k => v.id }
}

output "flow_log_group_name" {
  description = "Name of the flow log group, or null."
  value       = try(aws_cloudwatch_log_group.flow_logs[0].name, null)
}

output "network_acl_ids" {
  description = "Network ACL IDs by tier (public, private, database)."
  value       = { for k, v in aws_network_acl.this : k => v.id }
}
