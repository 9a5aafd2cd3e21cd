output "state_bucket" {
  description = "The state bucket: terraform init -backend-config=\"bucket=<this>\" in envs/<env>."
  value       = aws_s3_bucket.this.id
}

output "state_kms_key_arn" {
  description = "KMS key of the state bucket."
  value       = aws_kms_key.this.arn
}

output "role_arns" {
  description = "The GitHub Actions roles by job kind; set them as repository variables (docs/delivery.md)."
  value       = module.github_oidc.role_arns
}

output "github_repository_variables" {
  description = "Repository variables the workflows read (gh variable set NAME --body VALUE)."
  value = {
    AWS_REGION       = var.region
    TF_STATE_BUCKET  = aws_s3_bucket.this.id
    AWS_ROLE_TF_PLAN = module.github_oidc.role_arns["tf-plan"]
    AWS_ROLE_RELEASE = module.github_oidc.role_arns["release"]
  }
}

output "github_environment_variables" {
  description = "Per GitHub environment, its variable AWS_ROLE_ARN (gh variable set AWS_ROLE_ARN --env ENV --body VALUE): <env> for deploy.yml, terraform-<env> for terraform.yml's applies."
  value = merge(
    { for env in var.environments : env => { AWS_ROLE_ARN = module.github_oidc.role_arns["deploy-${env}"] } },
    { for env in var.environments : "terraform-${env}" => { AWS_ROLE_ARN = module.github_oidc.role_arns["tf-apply-${env}"] } },
  )
}
