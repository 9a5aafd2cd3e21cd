variable "github_repository" {
  description = "The repository whose workflows may assume the roles, as owner/name (e.g. \"acme/itemsd\")."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]{1,100}$", var.github_repository)) && !contains([".", ".."], try(split("/", var.github_repository)[1], "."))
    error_message = "github_repository must be owner/name: an owner of 1-39 letters, digits and inner hyphens, a name of letters, digits, '.', '_' and '-'."
  }
}

variable "name" {
  description = "Prefix of the roles' names and of the stack's resources (the environments are <name>-<env>)."
  type        = string
  default     = "itemsd"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.name))
    error_message = "name must be 2-16 lower-case letters, digits and hyphens."
  }
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (token.actions.githubusercontent.com). false: use oidc_provider_arn (an account has at most one provider per URL)."
  type        = bool
  default     = true
}

variable "oidc_provider_arn" {
  description = "ARN of an existing GitHub OIDC provider, when create_oidc_provider is false."
  type        = string
  default     = null

  validation {
    condition     = var.oidc_provider_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be the ARN of a token.actions.githubusercontent.com OIDC provider, or null."
  }
}

variable "environments" {
  description = "The deploy targets (envs/<env>): each gets a deploy role for the GitHub environment <env> and a Terraform apply role for the GitHub environment terraform-<env>."
  type        = list(string)
  default     = ["dev", "prod"]

  validation {
    condition     = length(var.environments) > 0 && alltrue([for e in var.environments : can(regex("^[a-z][a-z0-9]{0,9}$", e))]) && length(distinct(var.environments)) == length(var.environments)
    error_message = "environments must be distinct short lower-case names (letters and digits, at most 10)."
  }
}

variable "release_tag_pattern" {
  description = "Tags whose workflow runs may assume the release role (bakes AMIs), as the sub claim's ref pattern."
  type        = string
  default     = "v*"

  validation {
    condition     = can(regex("^[A-Za-z0-9._*-]+$", var.release_tag_pattern)) && var.release_tag_pattern != "*"
    error_message = "release_tag_pattern must be a tag pattern such as v*, not * alone."
  }
}

variable "state_bucket_arn" {
  description = "ARN of the Terraform state bucket (terraform/bootstrap)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_arn))
    error_message = "state_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::name)."
  }
}

variable "state_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the state bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.state_kms_key_arn))
    error_message = "state_kms_key_arn must be a KMS key ARN."
  }
}

variable "state_key_prefix" {
  description = "Prefix of the environments' state keys in the bucket: <prefix>/<env>/terraform.tfstate."
  type        = string
  default     = "itemsd"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9/-]*[a-z0-9]$", var.state_key_prefix))
    error_message = "state_key_prefix must be lower-case letters, digits, '-' and '/', not starting or ending with '/'."
  }
}

variable "max_session_seconds" {
  description = "Longest session of every role (a deploy follows a refresh for up to an hour)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_seconds >= 3600 && var.max_session_seconds <= 14400
    error_message = "max_session_seconds must be between 3600 and 14400."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
