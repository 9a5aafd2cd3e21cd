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

output "lifecycle_hook_name" {
  description = "Name of the termination lifecycle hook, or null."
  value       = try(aws_autoscaling_lifecycle_hook.terminating[0].name, null)
}

output "user_data" {
  description = "The rendered (non-secret) user data."
  value       = local.user_data
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
