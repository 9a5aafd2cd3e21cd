variable "region" {
  description = "Region of the state bucket and of the roles' scope (the environments' region)."
  type        = string
  default     = "eu-north-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-north-1."
  }
}

variable "github_repository" {
  description = "The repository whose workflows deploy, as owner/name (your fork)."
  type        = string
}

variable "state_bucket_name" {
  description = "Name of the Terraform state bucket (globally unique), e.g. \"<account-id>-itemsd-tfstate\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.state_bucket_name)) && !startswith(var.state_bucket_name, "xn--") && !endswith(var.state_bucket_name, "-s3alias")
    error_message = "state_bucket_name must be 3-63 lower-case letters, digits and hyphens (no dots: TLS to virtual-hosted buckets)."
  }
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider; false when the account already has one (then set oidc_provider_arn)."
  type        = bool
  default     = true
}

variable "oidc_provider_arn" {
  description = "The existing GitHub OIDC provider, when create_oidc_provider is false."
  type        = string
  default     = null
}

variable "environments" {
  description = "Environments the workflows deploy (terraform/envs/<env>)."
  type        = list(string)
  default     = ["dev", "prod"]
}

variable "noncurrent_version_days" {
  description = "Days an overwritten state version is kept (state history for recovery)."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_days >= 7 && var.noncurrent_version_days <= 3650
    error_message = "noncurrent_version_days must be between 7 and 3650."
  }
}
