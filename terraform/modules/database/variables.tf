variable "name" {
  description = "Name prefix for every resource, e.g. \"itemsd-dev\". The DB instance is \"<name>-db\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}[a-z0-9]$", var.name))
    error_message = "name must be 3-42 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "subnet_ids" {
  description = "Database subnet IDs (at least two AZs)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must list at least two subnets (RDS needs two AZs)."
  }
}

variable "security_group_ids" {
  description = "Security groups of the RDS instance (the security module's db group)."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) > 0
    error_message = "security_group_ids must name at least one security group."
  }
}

variable "engine_version" {
  description = "PostgreSQL engine version (major, or major.minor)."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^(1[4-9]|[2-9][0-9])(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be PostgreSQL 14 or later, e.g. \"16\" or \"16.4\"."
  }
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"

  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "instance_class must be an RDS class (db.*)."
  }
}

variable "allocated_storage" {
  description = "Initial storage in GiB (gp3)."
  type        = number
  default     = 20

  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 65536
    error_message = "allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB; 0 turns autoscaling off."
  type        = number
  default     = 100

  validation {
    condition     = var.max_allocated_storage == 0 || var.max_allocated_storage >= var.allocated_storage
    error_message = "max_allocated_storage must be 0 or at least allocated_storage."
  }
}

variable "db_name" {
  description = "Name of the database itemsd uses."
  type        = string
  default     = "itemsd"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must start with a letter and hold only lower-case letters, digits and underscores (max 63)."
  }
}

variable "master_username" {
  description = "Master user name. Its password is generated and rotated by RDS in Secrets Manager and never enters Terraform state."
  type        = string
  default     = "itemsd_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.master_username)) && !contains(["postgres", "admin", "rdsadmin"], var.master_username)
    error_message = "master_username must be a valid, non-reserved PostgreSQL role name."
  }
}

variable "app_username" {
  description = "PostgreSQL role itemsd serves as (itemsd's DB_IAM_USER). It logs in with RDS IAM authentication tokens; `itemsd migrate`, logged in as the master user, creates it and grants it rds_iam and DML on the schema (docs/terraform.md, the database roles)."
  type        = string
  default     = "itemsd_app"

  # An unquoted identifier: itemsd and the IAM policy's dbuser ARN use it as
  # written, and PostgreSQL folds unquoted names to lower case.
  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.app_username))
    error_message = "app_username must be a plain lower-case PostgreSQL identifier: ^[a-z_][a-z0-9_]{0,62}$."
  }

  # The master user owns the schema and logs in with its password; granted
  # rds_iam it could no longer log in with a password at all.
  validation {
    condition     = var.app_username != var.master_username
    error_message = "app_username must differ from master_username: the application role is not the owner."
  }

  # CREATE ROLE refuses pg_* names, and postgres, rdsadmin and rds_* are RDS's own roles.
  validation {
    condition     = !startswith(var.app_username, "pg_") && !startswith(var.app_username, "rds") && var.app_username != "postgres"
    error_message = "app_username must not be a reserved role name (pg_*, rds*, postgres)."
  }
}

variable "port" {
  description = "PostgreSQL port."
  type        = number
  default     = 5432

  validation {
    condition     = var.port >= 1150 && var.port <= 65535
    error_message = "port must be between 1150 and 65535 (RDS limits)."
  }
}

variable "multi_az" {
  description = "Run a standby in a second AZ (prod)."
  type        = bool
  default     = false
}

variable "backup_retention_days" {
  description = "Days automated backups are kept (1 in dev, 30 in prod)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35 (0 would turn backups off)."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (prod)."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Delete without a final snapshot (dev only). Must be false when deletion_protection is true."
  type        = bool
  default     = false

  validation {
    condition     = !(var.skip_final_snapshot && var.deletion_protection)
    error_message = "skip_final_snapshot cannot be true while deletion_protection is true: a protected database keeps a final snapshot."
  }
}

variable "performance_insights_enabled" {
  description = "Performance Insights: null picks it automatically (on for every class that supports it), true/false forces it."
  type        = bool
  default     = null

  validation {
    condition     = var.performance_insights_enabled != true || !contains(["db.t2.micro", "db.t2.small", "db.t3.micro", "db.t3.small", "db.t4g.micro", "db.t4g.small"], var.instance_class)
    error_message = "Performance Insights is not available on db.t2/t3/t4g micro and small classes; leave performance_insights_enabled null or false there."
  }
}

variable "monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds (0 turns it off)."
  type        = number
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "max_connections_override" {
  description = "max_connections of the instance class, for classes the module's table does not know (run SHOW max_connections on one). Null: the module's conservative estimate of RDS's default, LEAST({DBInstanceClassMemory/9531392}, 5000). It feeds the connection budget and the connections alarm; the parameter group keeps RDS's default either way."
  type        = number
  default     = null

  validation {
    condition     = var.max_connections_override == null || try(var.max_connections_override >= 20 && var.max_connections_override <= 262143, false)
    error_message = "max_connections_override must be null or between 20 and 262143."
  }

  validation {
    condition     = var.max_connections_override != null || contains(keys(local.class_memory_gib), var.instance_class)
    error_message = "The module does not know the memory of this instance_class: set max_connections_override to its max_connections (SHOW max_connections)."
  }
}

variable "log_retention_days" {
  description = "Retention of the log groups RDS exports to (/aws/rds/instance/<identifier>/postgresql and upgrade)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key of the exported logs' log groups (the monitoring module's key, which CloudWatch Logs may use)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN (arn:...:key/...)."
  }
}

# --- RDS Proxy -------------------------------------------------------------------

variable "enable_proxy" {
  description = "Put an RDS Proxy in front of the instance; itemsd then connects to its endpoint (the connection secret's host). See docs/terraform.md for what pins proxy sessions."
  type        = bool
  default     = false
}

variable "proxy_security_group_ids" {
  description = "Security groups of the proxy (the security module's proxy group), used when enable_proxy."
  type        = list(string)
  default     = []

  validation {
    condition     = !var.enable_proxy || length(var.proxy_security_group_ids) > 0
    error_message = "proxy_security_group_ids must name at least one security group when enable_proxy is true."
  }
}

variable "proxy_max_connections_percent" {
  description = "Share of max_connections the proxy's pool may use; the rest stays for direct connections (migrations, psql)."
  type        = number
  default     = 90

  validation {
    condition     = var.proxy_max_connections_percent >= 1 && var.proxy_max_connections_percent <= 100
    error_message = "proxy_max_connections_percent must be between 1 and 100."
  }
}

variable "proxy_max_idle_connections_percent" {
  description = "Share of max_connections the proxy keeps open while idle; at most proxy_max_connections_percent."
  type        = number
  default     = 50

  validation {
    condition     = var.proxy_max_idle_connections_percent >= 0 && var.proxy_max_idle_connections_percent <= var.proxy_max_connections_percent
    error_message = "proxy_max_idle_connections_percent must be between 0 and proxy_max_connections_percent."
  }
}

variable "proxy_connection_borrow_timeout_seconds" {
  description = "How long a client waits for a database connection from the proxy's pool before an error."
  type        = number
  default     = 30

  validation {
    condition     = var.proxy_connection_borrow_timeout_seconds >= 1 && var.proxy_connection_borrow_timeout_seconds <= 300
    error_message = "proxy_connection_borrow_timeout_seconds must be between 1 and 300."
  }
}

variable "proxy_statement_timeout_ms" {
  description = "statement_timeout the proxy sets on each database connection it opens (its initialisation query): behind the proxy itemsd cannot send it as a startup option. Match itemsd's DB_STATEMENT_TIMEOUT_MS."
  type        = number
  default     = 5000

  validation {
    condition     = var.proxy_statement_timeout_ms >= 1 && var.proxy_statement_timeout_ms <= 600000 && floor(var.proxy_statement_timeout_ms) == var.proxy_statement_timeout_ms
    error_message = "proxy_statement_timeout_ms must be a whole number of milliseconds between 1 and 600000, as DB_STATEMENT_TIMEOUT_MS."
  }
}

variable "proxy_idle_client_timeout_seconds" {
  description = "The proxy closes client connections idle this long; above itemsd's idle pool connections' lifetime, or the pool sees closed connections."
  type        = number
  default     = 1800

  validation {
    condition     = var.proxy_idle_client_timeout_seconds >= 1 && var.proxy_idle_client_timeout_seconds <= 28800
    error_message = "proxy_idle_client_timeout_seconds must be between 1 and 28800."
  }
}

variable "log_min_duration_statement_ms" {
  description = "Log statements slower than this many milliseconds (-1 off)."
  type        = number
  default     = 1000

  validation {
    condition     = var.log_min_duration_statement_ms >= -1
    error_message = "log_min_duration_statement_ms must be -1 or more."
  }
}

variable "alarm_actions" {
  description = "SNS topic ARNs every RDS alarm notifies (alarm and OK)."
  type        = list(string)

  validation {
    condition     = length(var.alarm_actions) > 0 && alltrue([for a in var.alarm_actions : can(regex("^arn:aws[a-z-]*:sns:", a))])
    error_message = "alarm_actions must name at least one SNS topic ARN: every alarm notifies someone."
  }
}

variable "alarm_cpu_percent" {
  description = "CPUUtilization above which the CPU alarm fires."
  type        = number
  default     = 80

  validation {
    condition     = var.alarm_cpu_percent > 0 && var.alarm_cpu_percent <= 100
    error_message = "alarm_cpu_percent must be in (0, 100]."
  }
}

variable "alarm_free_storage_bytes" {
  description = "FreeStorageSpace below which the storage alarm fires."
  type        = number
  default     = 2147483648

  validation {
    condition     = var.alarm_free_storage_bytes > 0
    error_message = "alarm_free_storage_bytes must be positive."
  }
}

variable "alarm_freeable_memory_bytes" {
  description = "FreeableMemory below which the memory alarm fires."
  type        = number
  default     = 104857600

  validation {
    condition     = var.alarm_freeable_memory_bytes > 0
    error_message = "alarm_freeable_memory_bytes must be positive."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
