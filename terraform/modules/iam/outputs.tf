output "role_name" {
  description = "Name of the instance role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the instance role."
  value       = aws_iam_role.this.arn
}

output "instance_profile_name" {
  description = "Instance profile for the launch template."
  value       = aws_iam_instance_profile.this.name
}

output "instance_profile_arn" {
  description = "ARN of the instance profile."
  value       = aws_iam_instance_profile.this.arn
}

output "policy_json" {
  description = "The inline policy document (for review and tests)."
  value       = jsonencode(local.policy_document)
}

output "instance_actions" {
  description = "The actions of the inline policy, by statement Sid, as read from instance-actions.json (the binary's tests read that file)."
  value       = local.actions
}

output "instance_action_list" {
  description = "Every action the inline policy grants, sorted and without duplicates."
  value       = sort(distinct(flatten(values(local.actions))))
}
