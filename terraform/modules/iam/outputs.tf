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
  description = "The actions of the inline policy, by statement Sid, as read from instance-actions.json (the binary's tests read that file); ConnectAsAppDatabaseUser's statement is left out of the policy without db_iam_user."
  value       = local.actions
}

output "instance_action_list" {
  description = "Every action the inline policy grants, sorted and without duplicates (rds-db:connect only with db_iam_user)."
  value       = sort(distinct(flatten([for s in local.statements : s.Action])))
}

output "db_user_arn" {
  description = "The one dbuser ARN the role may rds-db:connect to (arn:...:rds-db:<region>:<account>:dbuser:<resource id>/<user>), or null without db_iam_user."
  value       = one(local.db_user_arns)
}
