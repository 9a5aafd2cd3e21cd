variable "name" {
  description = "Name prefix for every resource, e.g. \"itemsd-dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "secret_arns" {
  description = "Secrets itemsd reads: the connection secret (DB_SECRET_ARN) and the RDS-managed master secret it points at."
  type        = list(string)

  validation {
    condition     = length(var.secret_arns) > 0 && alltrue([for a in var.secret_arns : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", a))])
    error_message = "secret_arns must be a non-empty list of full Secrets Manager secret ARNs (no wildcards)."
  }
}

variable "secrets_kms_key_arns" {
  description = "KMS keys encrypting those secrets; the role may decrypt with them only through Secrets Manager."
  type        = list(string)

  validation {
    condition     = length(var.secrets_kms_key_arns) > 0 && alltrue([for a in var.secrets_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", a))])
    error_message = "secrets_kms_key_arns must be a non-empty list of KMS key ARNs (arn:...:key/...)."
  }
}

variable "log_group_arn" {
  description = "ARN of itemsd's own log group (CLOUDWATCH_LOG_GROUP), without the trailing \":*\"."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:logs:[a-z0-9-]+:[0-9]{12}:log-group:[^*]+$", var.log_group_arn))
    error_message = "log_group_arn must be one log group's ARN, without wildcards or a trailing \":*\"."
  }
}

variable "ssm_log_group_arn" {
  description = "ARN of the ssm module's log group (session transcripts, Run Command output), without the trailing \":*\": the only group the SSM agent may write."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:logs:[a-z0-9-]+:[0-9]{12}:log-group:[^*]+$", var.ssm_log_group_arn))
    error_message = "ssm_log_group_arn must be one log group's ARN, without wildcards or a trailing \":*\"."
  }
}

variable "session_kms_key_arn" {
  description = "KMS key of Session Manager's session data (the ssm module's session_kms_key_arn); the role may decrypt with it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.session_kms_key_arn))
    error_message = "session_kms_key_arn must be a KMS key ARN (arn:...:key/...)."
  }
}

variable "metrics_namespace" {
  description = "The only CloudWatch namespace the role may PutMetricData into (CLOUDWATCH_NAMESPACE)."
  type        = string
  default     = "Itemsd"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be a valid custom namespace and must not start with \"AWS/\"."
  }
}

variable "db_iam_user" {
  description = "PostgreSQL role itemsd logs in as with IAM auth tokens (DB_IAM_USER; the database module's app_username). The role may rds-db:connect as this user only. Null: no rds-db:connect statement (behind the RDS Proxy itemsd logs in with the master secret)."
  type        = string
  default     = null

  validation {
    condition     = var.db_iam_user == null || can(regex("^[a-z_][a-z0-9_]{0,62}$", var.db_iam_user))
    error_message = "db_iam_user must be null or a plain lower-case PostgreSQL identifier: ^[a-z_][a-z0-9_]{0,62}$."
  }

  # The dbuser ARN needs both; one without the other is a wiring mistake.
  validation {
    condition     = (var.db_iam_user == null) == (var.db_resource_id == null)
    error_message = "db_iam_user and db_resource_id are set together (the rds-db:connect ARN names both) or both left null."
  }
}

variable "db_resource_id" {
  description = "DbiResourceId of the RDS instance (the database module's resource_id, db-...), named by the rds-db:connect ARN. Null together with db_iam_user."
  type        = string
  default     = null

  validation {
    condition     = var.db_resource_id == null || can(regex("^db-[A-Z0-9]+$", var.db_resource_id))
    error_message = "db_resource_id must be null or a DbiResourceId (db- and upper-case letters and digits), not the instance identifier or a wildcard."
  }
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary for the instance role."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
