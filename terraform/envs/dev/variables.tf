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
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "alarm_emails" {
  description = "Who gets alarm and budget emails."
  type        = list(string)
  default     = []
}

variable "ami_id" {
  description = "itemsd AMI to run; null: the newest AMI tagged Application=itemsd with the right Architecture (and Version, when ami_version is set)."
  type        = string
  default     = null
}

variable "ami_version" {
  description = "Version tag of the itemsd AMI to look up when ami_id is null."
  type        = string
  default     = null
}

variable "architecture" {
  description = "arm64 or x86_64; must match the AMI and instance_type."
  type        = string
  default     = "x86_64"
}

variable "instance_type" {
  description = "EC2 instance type of the itemsd instances."
  type        = string
  default     = "t3.micro"
}

variable "certificate_arn" {
  description = "ACM certificate ARN for HTTPS on the ALB (null: HTTP only)."
  type        = string
  default     = null
}

variable "budget_limit_usd" {
  description = "Monthly budget in USD (0: no budget)."
  type        = number
  default     = 30
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
  description = "Put the waf module's web ACL in front of the ALB (managed rule groups, rate limit, logs, alarms); off in dev (about $9 a month before requests)."
  type        = bool
  default     = false
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
