variable "name" {
  description = "Name prefix for every resource, e.g. \"itemsd-dev\"; the Run Command documents are <name>-status and <name>-check."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN that encrypts the log group (the monitoring module's key, which CloudWatch Logs may use). Session Manager refuses to log to a group without one."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN (arn:...:key/...)."
  }
}

variable "log_retention_days" {
  description = "Retention of the session transcripts and Run Command output, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "run_as_user" {
  description = "Operating system account sessions run as, and the Run Command documents drop to: no sudo, member of systemd-journal. The AMI must provide it (ami/scripts/install-itemsd.sh)."
  type        = string
  default     = "itemsd-ops"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.run_as_user)) && !contains(["root", "ec2-user", "ssm-user"], var.run_as_user)
    error_message = "run_as_user must be a Linux user name (lower case, at most 32 characters) and not root, ec2-user or ssm-user, which can sudo."
  }
}

variable "idle_session_timeout_minutes" {
  description = "Session Manager ends a session after this many minutes without input (1-60)."
  type        = number
  default     = 20

  validation {
    condition     = var.idle_session_timeout_minutes >= 1 && var.idle_session_timeout_minutes <= 60 && floor(var.idle_session_timeout_minutes) == var.idle_session_timeout_minutes
    error_message = "idle_session_timeout_minutes must be a whole number of minutes from 1 to 60."
  }
}

variable "max_session_duration_minutes" {
  description = "Session Manager ends any session after this many minutes (1-1440), idle or not."
  type        = number
  default     = 120

  validation {
    condition     = var.max_session_duration_minutes >= 1 && var.max_session_duration_minutes <= 1440 && floor(var.max_session_duration_minutes) == var.max_session_duration_minutes && var.max_session_duration_minutes >= var.idle_session_timeout_minutes
    error_message = "max_session_duration_minutes must be a whole number of minutes from 1 to 1440, and not below idle_session_timeout_minutes."
  }
}

variable "manage_session_preferences" {
  description = "Write the Session Manager preferences document. There is one per account and region: with two environments in one account and region, only one of them may manage it."
  type        = bool
  default     = true
}

variable "session_document_name" {
  description = "Name of the preferences document: SSM-SessionManagerRunShell is the one `aws ssm start-session` uses without --document-name; another name needs --document-name on every session."
  type        = string
  default     = "SSM-SessionManagerRunShell"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,128}$", var.session_document_name)) && !can(regex("^(?i)(aws|amazon|amzn)", var.session_document_name))
    error_message = "session_document_name must be 3-128 letters, digits, '_', '-' or '.', and must not start with aws, amazon or amzn (reserved by AWS)."
  }
}

variable "check_timeout_seconds" {
  description = "How long the <name>-check document lets `itemsd check` run (it connects to the database and makes test calls to CloudWatch)."
  type        = number
  default     = 120

  validation {
    condition     = var.check_timeout_seconds >= 30 && var.check_timeout_seconds <= 600 && floor(var.check_timeout_seconds) == var.check_timeout_seconds
    error_message = "check_timeout_seconds must be a whole number of seconds from 30 to 600."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
