variable "name" {
  description = "Name prefix for every resource, e.g. \"itemsd-prod\"; the web ACL is <name>-waf, its log group aws-waf-logs-<name>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "alb_arn" {
  description = "ARN of the Application Load Balancer the web ACL protects (the compute module's alb_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/app/", var.alb_arn))
    error_message = "alb_arn must be an Application Load Balancer ARN (arn:...:loadbalancer/app/...)."
  }
}

variable "rate_limit" {
  description = "Requests one IP address may send per rate_limit_window_seconds before the rate rule answers it 429 (AWS WAF accepts 10 to 2,000,000,000)."
  type        = number
  default     = 2000

  validation {
    condition     = var.rate_limit >= 10 && var.rate_limit <= 2000000000 && floor(var.rate_limit) == var.rate_limit
    error_message = "rate_limit must be a whole number from 10 to 2,000,000,000 (AWS WAF's bounds for a rate-based rule)."
  }
}

variable "rate_limit_window_seconds" {
  description = "The window the rate rule counts each address's requests over: 60, 120, 300 or 600 seconds."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 120, 300, 600], var.rate_limit_window_seconds)
    error_message = "rate_limit_window_seconds must be 60, 120, 300 or 600 (the windows AWS WAF offers)."
  }
}

variable "allowed_ip_cidrs" {
  description = "IPv4 CIDRs that skip every other rule (a load generator, a monitoring probe, an office). Empty: no allow list. To let only some addresses reach the ALB at all, use the security module's alb_ingress_cidr_blocks."
  type        = list(string)
  default     = []

  validation {
    condition = length(var.allowed_ip_cidrs) <= 10000 && alltrue([
      for c in var.allowed_ip_cidrs :
      can(cidrhost(c, 0)) && !strcontains(c, ":") && try(tonumber(split("/", c)[1]) >= 1, false)
    ])
    error_message = "allowed_ip_cidrs must be at most 10,000 IPv4 CIDRs with a prefix length (/1 to /32; WAF takes no /0)."
  }
}

variable "common_rule_set_count_rules" {
  description = "Rules of AWSManagedRulesCommonRuleSet that only count instead of blocking, e.g. [\"SizeRestrictions_BODY\"] to accept request bodies over 8 KB (WAF inspects only the first 8 KB of a body behind an ALB)."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([for r in var.common_rule_set_count_rules : contains([
      "NoUserAgent_HEADER", "UserAgent_BadBots_HEADER",
      "SizeRestrictions_QUERYSTRING", "SizeRestrictions_Cookie_HEADER", "SizeRestrictions_BODY", "SizeRestrictions_URIPATH",
      "EC2MetaDataSSRF_BODY", "EC2MetaDataSSRF_COOKIE", "EC2MetaDataSSRF_URIPATH", "EC2MetaDataSSRF_QUERYARGUMENTS",
      "GenericLFI_QUERYARGUMENTS", "GenericLFI_URIPATH", "GenericLFI_BODY",
      "RestrictedExtensions_URIPATH", "RestrictedExtensions_QUERYARGUMENTS",
      "GenericRFI_QUERYARGUMENTS", "GenericRFI_BODY", "GenericRFI_URIPATH",
      "CrossSiteScripting_COOKIE", "CrossSiteScripting_QUERYARGUMENTS", "CrossSiteScripting_BODY", "CrossSiteScripting_URIPATH",
    ], r)]) && length(distinct(var.common_rule_set_count_rules)) == length(var.common_rule_set_count_rules)
    error_message = "common_rule_set_count_rules may only name rules of AWSManagedRulesCommonRuleSet (e.g. SizeRestrictions_BODY), each once; WAF would silently ignore a misspelt one."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN that encrypts the WAF log group (the monitoring module's key)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN (arn:...:key/...)."
  }
}

variable "log_retention_days" {
  description = "Retention of the WAF log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "log_allowed_requests" {
  description = "Log every request WAF sees, not only the blocked and counted ones (CloudWatch Logs bills by the gigabyte)."
  type        = bool
  default     = false
}

variable "alarm_actions" {
  description = "SNS topics the blocked-request alarms notify, on ALARM and on OK (the monitoring module's sns_topic_arn)."
  type        = list(string)

  validation {
    condition     = length(var.alarm_actions) > 0 && alltrue([for a in var.alarm_actions : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:", a))])
    error_message = "alarm_actions must name at least one SNS topic ARN: an alarm that notifies nobody is not an alarm."
  }
}

variable "blocked_requests_threshold" {
  description = "Alarm when WAF blocks more than this many requests in 5 minutes, all rules together."
  type        = number
  default     = 500

  validation {
    condition     = var.blocked_requests_threshold >= 1 && floor(var.blocked_requests_threshold) == var.blocked_requests_threshold
    error_message = "blocked_requests_threshold must be a whole number of at least 1."
  }
}

variable "rate_limited_threshold" {
  description = "Alarm when the rate rule alone blocks more than this many requests in 5 minutes."
  type        = number
  default     = 100

  validation {
    condition     = var.rate_limited_threshold >= 1 && floor(var.rate_limited_threshold) == var.rate_limited_threshold
    error_message = "rate_limited_threshold must be a whole number of at least 1."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
