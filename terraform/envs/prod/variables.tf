variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-north-1"
}

variable "availability_zones" {
  description = "Availability zones to use; empty: the first az_count zones of the region."
  type        = list(string)
  default     = []
}

variable "az_count" {
  description = "How many AZs to use when availability_zones is empty (2 or 3)."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "alarm_emails" {
  description = "Who gets alarm and budget emails; prod needs at least one subscriber, or its alarms notify nobody."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.alarm_emails) > 0 && alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "prod needs at least one alarm subscriber: set alarm_emails to one or more email addresses."
  }
}

variable "ami_id" {
  description = "itemsd AMI to run; null: the newest AMI tagged Application=itemsd with the right Architecture (and Version, when ami_version is set)."
  type        = string
  default     = null
}

variable "ami_version" {
  description = "Version tag of the itemsd AMI to look up when ami_id is null. Prod pins one of the two, so that a new AMI never rolls production by surprise."
  type        = string
  default     = null

  validation {
    condition     = var.ami_version != null || var.ami_id != null
    error_message = "prod must pin its AMI: set ami_version (or ami_id)."
  }
}

variable "architecture" {
  description = "arm64 or x86_64; must match the AMI and instance_type."
  type        = string
  default     = "x86_64"
}

variable "instance_type" {
  description = "EC2 instance type of the itemsd instances."
  type        = string
  default     = "t3.small"
}

variable "certificate_arn" {
  description = "ACM certificate ARN for HTTPS on the ALB. Required in prod: port 80 then only redirects (301) to HTTPS, with TLS policy ELBSecurityPolicy-TLS13-1-2-2021-06."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn != null && can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/", var.certificate_arn))
    error_message = "prod serves HTTPS only: set certificate_arn to an ACM certificate ARN."
  }
}

variable "budget_limit_usd" {
  description = "Monthly budget in USD (0: no budget)."
  type        = number
  default     = 300
}

variable "instance_refresh_enabled" {
  description = "Configure instance refresh on the Auto Scaling group (false only against emulators without StartInstanceRefresh)."
  type        = bool
  default     = true
}

variable "enable_db_proxy" {
  description = "Put an RDS Proxy between itemsd and the database. Read docs/terraform.md first: itemsd's named prepared statements and startup options pin or break proxy sessions."
  type        = bool
  default     = false
}

variable "db_max_connections" {
  description = "max_connections of the database's instance class when the database module does not know the class (SHOW max_connections); null: the module's estimate."
  type        = number
  default     = null
}

variable "manage_session_preferences" {
  description = "Write Session Manager's preferences document. There is one per account and region: with dev and prod in one account and region, only one of them may (docs/operations.md)."
  type        = bool
  default     = true
}

variable "session_document_name" {
  description = "Name of the preferences document: SSM-SessionManagerRunShell is the one `aws ssm start-session` uses without --document-name."
  type        = string
  default     = "SSM-SessionManagerRunShell"
}

variable "enable_waf" {
  description = "Put the waf module's web ACL in front of the ALB (managed rule groups, rate limit, logs, alarms); on in prod."
  type        = bool
  default     = true
}

variable "waf_rate_limit" {
  description = "Requests one IP address may send per 5 minutes before the WAF answers 429."
  type        = number
  default     = 2000
}

variable "waf_allowed_ip_cidrs" {
  description = "IPv4 CIDRs that skip the WAF's rules (a load generator, a monitoring probe); empty: none."
  type        = list(string)
  default     = []
}
