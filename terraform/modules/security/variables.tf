variable "name" {
  description = "Name prefix for every resource, e.g. \"itemsd-dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  description = "VPC the security groups belong to."
  type        = string

  validation {
    condition     = startswith(var.vpc_id, "vpc-")
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "app_port" {
  description = "Port itemsd listens on (APPLICATION_PORT)."
  type        = number
  default     = 5001

  validation {
    condition     = var.app_port >= 1024 && var.app_port <= 65535 && floor(var.app_port) == var.app_port
    error_message = "app_port must be an unprivileged port (1024-65535)."
  }
}

variable "db_port" {
  description = "PostgreSQL port."
  type        = number
  default     = 5432

  validation {
    condition     = var.db_port >= 1024 && var.db_port <= 65535 && floor(var.db_port) == var.db_port
    error_message = "db_port must be between 1024 and 65535."
  }
}

variable "alb_ingress_cidr_blocks" {
  description = "IPv4 CIDRs allowed to reach the ALB on 80/443. The ALB is the only tier open to the internet."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.alb_ingress_cidr_blocks) > 0 && alltrue([for c in var.alb_ingress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "alb_ingress_cidr_blocks must be a non-empty list of valid IPv4 CIDRs."
  }
}

variable "enable_https" {
  description = "Open 443 on the ALB (set when the compute module gets a certificate)."
  type        = bool
  default     = false
}

variable "enable_db_proxy" {
  description = "Add the RDS Proxy's security group: PostgreSQL from the app tier to the proxy and from the proxy to the database (set with the database module's enable_proxy)."
  type        = bool
  default     = false
}

variable "app_https_egress_to_internet" {
  description = "Let instances reach AWS APIs over HTTPS through the NAT gateway (0.0.0.0/0:443). Turn off when the interface endpoints serve every API itemsd and SSM use."
  type        = bool
  default     = true
}

variable "enable_s3_egress" {
  description = "Let instances reach S3 over HTTPS through the gateway endpoint (the SSM agent fetches from S3). Needs s3_prefix_list_id."
  type        = bool
  default     = false
}

variable "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint (network module output), used when enable_s3_egress is true."
  type        = string
  default     = null

  validation {
    condition     = var.enable_s3_egress ? can(regex("^pl-", var.s3_prefix_list_id)) : true
    error_message = "s3_prefix_list_id must be a prefix list ID (pl-...) when enable_s3_egress is true."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
