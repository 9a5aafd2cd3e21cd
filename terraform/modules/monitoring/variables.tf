variable "name" {
  description = "Name prefix for every resource, e.g. \"itemsd-dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "alarm_emails" {
  description = "Email addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_emails must be email addresses."
  }
}

variable "log_group_name" {
  description = "Name of itemsd's log group (CLOUDWATCH_LOG_GROUP); null: \"/itemsd/<name>\"."
  type        = string
  default     = null

  validation {
    condition     = var.log_group_name == null || can(regex("^[A-Za-z0-9_/.#-]{1,512}$", var.log_group_name))
    error_message = "log_group_name must be a valid CloudWatch log group name."
  }
}

variable "log_retention_days" {
  description = "Retention of itemsd's log group in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "metrics_namespace" {
  description = "Namespace of itemsd's metrics (CLOUDWATCH_NAMESPACE) and of the log metric filters."
  type        = string
  default     = "Itemsd"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be a valid custom namespace and must not start with \"AWS/\"."
  }
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB (compute module)."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the target group (compute module)."
  type        = string
}

variable "autoscaling_group_name" {
  description = "Name of the Auto Scaling group (compute module)."
  type        = string
}

variable "db_instance_identifier" {
  description = "RDS instance identifier, for the dashboard (database module)."
  type        = string
}

variable "target_5xx_threshold" {
  description = "Target 5xx responses per minute that count as breaching (3 of 5 minutes raise the alarm)."
  type        = number
  default     = 10

  validation {
    condition     = var.target_5xx_threshold >= 0
    error_message = "target_5xx_threshold must be 0 or more."
  }
}

variable "response_time_p99_seconds" {
  description = "p99 target response time that counts as breaching (3 of 5 minutes raise the alarm)."
  type        = number
  default     = 1

  validation {
    condition     = var.response_time_p99_seconds > 0 && var.response_time_p99_seconds <= 60
    error_message = "response_time_p99_seconds must be in (0, 60]."
  }
}

variable "app_errors_threshold" {
  description = "ERROR log lines in 5 minutes above which the application-errors alarm fires."
  type        = number
  default     = 10

  validation {
    condition     = var.app_errors_threshold >= 0
    error_message = "app_errors_threshold must be 0 or more."
  }
}

variable "host_memory_percent" {
  description = "mem_used_percent (group maximum) above which the host memory alarm fires."
  type        = number
  default     = 90

  validation {
    condition     = var.host_memory_percent > 0 && var.host_memory_percent < 100
    error_message = "host_memory_percent must be in (0, 100)."
  }
}

variable "host_disk_percent" {
  description = "disk_used_percent (group maximum) above which the host disk alarm fires."
  type        = number
  default     = 85

  validation {
    condition     = var.host_disk_percent > 0 && var.host_disk_percent < 100
    error_message = "host_disk_percent must be in (0, 100)."
  }
}

variable "budget_limit_usd" {
  description = "Monthly cost budget in USD; alerts at 80 % actual and 100 % forecast. 0 turns the budget off."
  type        = number
  default     = 50

  validation {
    condition     = var.budget_limit_usd == 0 || (var.budget_limit_usd > 0 && length(var.budget_emails != null ? var.budget_emails : var.alarm_emails) > 0)
    error_message = "budget_limit_usd must be 0 (off) or positive with at least one address in budget_emails or alarm_emails."
  }
}

variable "budget_emails" {
  description = "Email addresses the budget alerts go to (default: alarm_emails)."
  type        = list(string)
  default     = null

  validation {
    condition     = var.budget_emails == null || alltrue([for e in coalesce(var.budget_emails, []) : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "budget_emails must be email addresses."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
