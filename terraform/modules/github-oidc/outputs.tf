output "oidc_provider_arn" {
  description = "ARN of the GitHub OIDC provider the roles trust."
  value       = local.provider_arn
}

output "role_arns" {
  description = "Role ARN by job kind: deploy-<env>, tf-apply-<env>, tf-plan, release. Put them in the repository's variables (docs/delivery.md)."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}

output "deploy_actions" {
  description = "The deploy roles' actions by statement Sid (deploy-actions.json)."
  value       = local.deploy_actions
}

output "subjects" {
  description = "The sub claims each role accepts."
  value       = { for k, r in local.roles : k => r.subjects }
}
