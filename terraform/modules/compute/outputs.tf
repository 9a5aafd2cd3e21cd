output "alb_arn" {
  description = "ARN of the ALB."
  value       = aws_lb.this.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the ALB (the LoadBalancer metric dimension)."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the ALB: the service answers here."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the ALB, for Route 53 alias records."
  value       = aws_lb.this.zone_id
}

output "service_url" {
  description = "URL of the service through the ALB."
  value       = "${local.https ? "https" : "http"}://${aws_lb.this.dns_name}"
}

output "target_group_arn" {
  description = "ARN of the target group."
  value       = aws_lb_target_group.this.arn
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the target group (the TargetGroup metric dimension)."
  value       = aws_lb_target_group.this.arn_suffix
}

output "autoscaling_group_name" {
  description = "Name of the Auto Scaling group."
  value       = aws_autoscaling_group.this.name
}

output "launch_template_id" {
  description = "ID of the launch template."
  value       = aws_launch_template.this.id
}

output "ami_id" {
  description = "AMI the launch template uses."
  value       = local.ami_id
}

output "user_data" {
  description = "The rendered (non-secret) user data."
  value       = local.user_data
}

output "settings" {
  description = "The settings written to /etc/itemsd/itemsd.env (non-secret)."
  value       = local.settings
}

output "systemd_dropin" {
  description = "Path and content of the systemd drop-in the user data installs (TimeoutStopSec)."
  value = {
    path    = local.systemd_dropin_path
    content = local.systemd_dropin_content
  }
}

output "connection_budget" {
  description = "The numbers of the connection budget check (docs/terraform.md)."
  value = {
    instances          = local.budget_instances
    pool_max           = var.db_pool_max_connections
    headroom           = var.db_connection_headroom
    connections        = local.budget_connections
    db_max_connections = var.db_max_connections
    db_instance_class  = var.db_instance_class
  }
}

output "shutdown_timeline" {
  description = "The numbers of the shutdown timeline, for the AMI's systemd unit and the docs."
  value = {
    health_check_interval  = var.health_check_interval_seconds
    health_check_timeout   = var.health_check_timeout_seconds
    unhealthy_threshold    = var.health_check_unhealthy_threshold
    pre_stop_delay         = var.shutdown_delay_seconds
    drain_timeout          = var.shutdown_timeout_seconds
    flush_bound            = var.log_flush_seconds
    deregistration_delay   = var.deregistration_delay_seconds
    systemd_timeout_stop   = var.systemd_timeout_stop_seconds
    alb_idle_timeout       = var.idle_timeout_seconds
    alb_notices_failure_in = var.health_check_unhealthy_threshold * var.health_check_interval_seconds + var.health_check_timeout_seconds
  }
}

output "instance_refresh_checkpoints" {
  description = "Checkpoint percentages of the instance refresh (the last one is 100)."
  value       = var.instance_refresh_checkpoints
}

output "internal_paths" {
  description = "Paths the ALB answers with a fixed 404 instead of forwarding (reachable inside the VPC and through SSM only)."
  value       = local.internal_paths
}

output "instance_refresh_parameter_name" {
  description = "SSM parameter holding the group's name and instance refresh preferences (read by scripts/deploy.sh)."
  value       = aws_ssm_parameter.instance_refresh.name
}

output "instance_refresh_preferences" {
  description = "Instance refresh preferences in StartInstanceRefresh's names (the instance_refresh block and scripts/deploy.sh use them)."
  value       = local.refresh_preferences
}
