variable "name" {
  description = "Name prefix for every resource, e.g. \"itemsd-dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC. Subnets are /24s of a /16 (public x.x.0-2.0, private x.x.10-12.0, database x.x.20-22.0)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20, false)
    error_message = "vpc_cidr must be a valid IPv4 CIDR with a prefix length between /16 and /20."
  }
}

variable "azs" {
  description = "Availability zones to spread the subnets over (2 or 3), e.g. [\"eu-north-1a\", \"eu-north-1b\"]."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2 && length(var.azs) <= 3 && length(distinct(var.azs)) == length(var.azs)
    error_message = "azs must list 2 or 3 distinct availability zones."
  }
}

variable "enable_nat_gateway" {
  description = "Create NAT gateways so that private subnets reach the internet. Off is fine when the interface endpoints are on and the instances download nothing."
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper, one AZ's failure cuts egress) instead of one per AZ."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "AWS services to reach through interface VPC endpoints in the private subnets. Allowed: logs, monitoring, secretsmanager, ssm, ssmmessages, ec2messages, kms, sts."
  type        = set(string)
  default     = []

  validation {
    condition     = length(setsubtract(var.interface_endpoints, ["logs", "monitoring", "secretsmanager", "ssm", "ssmmessages", "ec2messages", "kms", "sts"])) == 0
    error_message = "interface_endpoints may only contain logs, monitoring, secretsmanager, ssm, ssmmessages, ec2messages, kms and sts."
  }
}

variable "endpoint_security_group_ids" {
  description = "Security groups for the interface endpoints (the security module's endpoints group, which admits HTTPS from the app tier only). Required when interface_endpoints is not empty."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.interface_endpoints) == 0 || length(var.endpoint_security_group_ids) > 0
    error_message = "endpoint_security_group_ids must name at least one security group when interface_endpoints is not empty."
  }
}

variable "enable_flow_logs" {
  description = "Send VPC flow logs to a CloudWatch log group."
  type        = bool
  default     = true
}

variable "flow_logs_retention_days" {
  description = "Retention of the flow log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_logs_retention_days)
    error_message = "flow_logs_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "flow_logs_traffic_type" {
  description = "Which traffic the flow logs record: ACCEPT, REJECT or ALL."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_logs_traffic_type)
    error_message = "flow_logs_traffic_type must be ACCEPT, REJECT or ALL."
  }
}

variable "flow_logs_kms_key_arn" {
  description = "KMS key ARN that encrypts the flow log group (the monitoring module's key). Required when enable_flow_logs is true."
  type        = string
  default     = null

  validation {
    condition     = var.flow_logs_kms_key_arn == null ? !var.enable_flow_logs : can(regex("^arn:aws[a-z-]*:kms:", var.flow_logs_kms_key_arn))
    error_message = "flow_logs_kms_key_arn must be a KMS key ARN, and is required when enable_flow_logs is true."
  }
}

variable "app_port" {
  description = "Port itemsd listens on (APPLICATION_PORT): the private tier's network ACL admits it from the public subnets only."
  type        = number
  default     = 5001

  validation {
    condition     = var.app_port >= 1024 && var.app_port <= 65535 && floor(var.app_port) == var.app_port
    error_message = "app_port must be an unprivileged port (1024-65535)."
  }
}

variable "db_port" {
  description = "PostgreSQL port: the database tier's network ACL admits it from the private subnets."
  type        = number
  default     = 5432

  validation {
    condition     = var.db_port >= 1024 && var.db_port <= 65535 && floor(var.db_port) == var.db_port
    error_message = "db_port must be between 1024 and 65535."
  }
}

variable "enable_db_proxy" {
  description = "Let the database tier's network ACL pass db_port and its return traffic between the database subnets, where the RDS Proxy connects to the instance (set with the database module's enable_proxy)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
