variable "name" {
  description = "Name prefix for every resource, e.g. \"itemsd-dev\" (ALB and target group names are cut to 32 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name))
    error_message = "name must be 3-24 characters of lower-case letters, digits and hyphens (ALB names are at most 32 characters)."
  }
}

variable "environment" {
  description = "Environment name written to the instances' settings file (ENVIRONMENT)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.environment))
    error_message = "environment must be a short lower-case name such as dev or prod."
  }
}

variable "vpc_id" {
  description = "VPC of the target group."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets of the ALB (at least two AZs)."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids must list at least two subnets (an ALB needs two AZs)."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets of the Auto Scaling group."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 1
    error_message = "private_subnet_ids must list at least one subnet."
  }
}

variable "alb_security_group_id" {
  description = "Security group of the ALB (security module)."
  type        = string
}

variable "app_security_group_id" {
  description = "Security group of the instances (security module)."
  type        = string
}

variable "instance_profile_name" {
  description = "Instance profile of the itemsd role (iam module)."
  type        = string
}

# --- the AMI -----------------------------------------------------------------

variable "ami_id" {
  description = "itemsd AMI ID. Null looks the AMI up by the tags the Packer build writes (Application=itemsd, Architecture, and Version when ami_version is set), newest first."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be an AMI ID (ami-...) or null."
  }
}

variable "ami_version" {
  description = "When ami_id is null: the Version tag of the AMI to use (null: the newest itemsd AMI)."
  type        = string
  default     = null
}

variable "ami_owners" {
  description = "When ami_id is null: accounts whose AMIs are searched."
  type        = list(string)
  default     = ["self"]
}

variable "architecture" {
  description = "CPU architecture of the AMI and the instance type: arm64 or x86_64 (the Architecture AMI tag)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "instance_type" {
  description = "EC2 instance type (must match architecture: e.g. t3.* for x86_64, t4g.* for arm64)."
  type        = string
  default     = "t3.micro"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like family.size, e.g. t4g.micro."
  }
}

variable "root_volume_size_gib" {
  description = "Size of the encrypted gp3 root volume."
  type        = number
  default     = 8

  validation {
    condition     = var.root_volume_size_gib >= 8 && var.root_volume_size_gib <= 1024
    error_message = "root_volume_size_gib must be between 8 and 1024."
  }
}

variable "root_device_name" {
  description = "Root device name of the AMI (/dev/xvda on Amazon Linux 2023 and Debian AMIs)."
  type        = string
  default     = "/dev/xvda"
}

variable "ebs_kms_key_arn" {
  description = "KMS key for the root volume; null uses the account's default EBS key."
  type        = string
  default     = null
}

# --- settings handed to itemsd through user data ------------------------------

variable "app_port" {
  description = "Port itemsd listens on (APPLICATION_PORT; the AMI's default is 5001)."
  type        = number
  default     = 5001

  validation {
    condition     = var.app_port >= 1024 && var.app_port <= 65535
    error_message = "app_port must be an unprivileged port (1024-65535)."
  }
}

variable "db_secret_arn" {
  description = "ARN of the connection secret (DB_SECRET_ARN)."
  type        = string
}

variable "log_group_name" {
  description = "CloudWatch log group itemsd ships its logs to (CLOUDWATCH_LOG_GROUP)."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of itemsd's metrics (CLOUDWATCH_NAMESPACE)."
  type        = string
  default     = "Itemsd"
}

variable "extra_settings" {
  description = "More KEY=value lines for /etc/itemsd/itemsd.env. Non-secret settings only: names that look like credentials are refused."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.extra_settings : can(regex("^[A-Z][A-Z0-9_]*$", k)) && !can(regex("PASSWORD|SECRET_KEY|TOKEN|ACCESS_KEY|PRIVATE", k)) && !can(regex("[\\n\\r]", v))])
    error_message = "extra_settings keys must be UPPER_SNAKE_CASE, must not name a credential (PASSWORD, TOKEN, ...), and values must be single lines."
  }

  validation {
    condition     = length(setintersection(keys(var.extra_settings), ["ENVIRONMENT", "AWS_REGION", "APPLICATION_PORT", "AUTOSCALING_GROUP_NAME", "DB_SECRET_ARN", "DB_HOST", "DB_IAM_USER", "DB_POOL_MAX_CONN", "DB_SSLMODE", "DB_SSLROOTCERT", "DB_RDS_PROXY", "CLOUDWATCH_LOG_GROUP", "CLOUDWATCH_NAMESPACE", "SHUTDOWN_DELAY_SECONDS", "SHUTDOWN_TIMEOUT_SECONDS"])) == 0
    error_message = "extra_settings must not redefine a setting this module writes (DB_POOL_MAX_CONN, DB_SSLMODE, SHUTDOWN_DELAY_SECONDS, ...): set the module's variable instead, so that the checks on it hold."
  }
}

variable "db_host" {
  description = "DB_HOST for the settings file: the RDS Proxy endpoint when the database module has one (its connect_address output), null to leave it out. itemsd takes the host from the connection secret when DB_SECRET_ARN is set; the database module points the secret at the same address."
  type        = string
  default     = null
}

variable "db_iam_user" {
  description = "DB_IAM_USER for the settings file: the PostgreSQL role itemsd serves as, logging in with RDS IAM auth tokens instead of the master password (the database module's app_username); itemsd migrate creates it. Null leaves the setting out and itemsd logs in as the connection secret's master user (the RDS Proxy case)."
  type        = string
  default     = null

  validation {
    condition     = var.db_iam_user == null || can(regex("^[a-z_][a-z0-9_]{0,62}$", var.db_iam_user))
    error_message = "db_iam_user must be null or a plain lower-case PostgreSQL identifier: ^[a-z_][a-z0-9_]{0,62}$."
  }

  # The RDS Proxy (db_host) logs in to the database with one secret per user
  # and, in provider 5.100, cannot pass an IAM login on: a token for the app
  # role would be refused there.
  validation {
    condition     = var.db_iam_user == null || var.db_host == null
    error_message = "db_iam_user must be null when db_host (the RDS Proxy endpoint) is set: the proxy logs in with the master secret, not with IAM tokens."
  }
}

variable "db_ssl_root_cert_path" {
  description = "DB_SSLROOTCERT: the CA bundle itemsd verifies the database's certificate with (DB_SSLMODE is always verify-full). The default is the RDS global bundle the AMI installs, which signs RDS instance certificates; an RDS Proxy presents an ACM certificate under the Amazon roots, which the system bundle holds. Null: the default."
  type        = string
  default     = "/usr/local/share/itemsd/rds-global-bundle.pem"
  nullable    = false

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+\\.(pem|crt)$", var.db_ssl_root_cert_path))
    error_message = "db_ssl_root_cert_path must be an absolute path to a .pem or .crt file."
  }
}

# --- the connection budget (docs/terraform.md) ----------------------------------
#
#   ceil(max_size x 110 %) x db_pool_max_connections + db_connection_headroom
#     <= db_max_connections
#
# checked by a precondition on the Auto Scaling group (plan fails otherwise).

variable "db_pool_max_connections" {
  description = "DB_POOL_MAX_CONN: the most connections one itemsd opens to PostgreSQL (its pool; migrations and the health probe use the pool too)."
  type        = number
  default     = 10

  validation {
    condition     = var.db_pool_max_connections >= 2 && var.db_pool_max_connections <= 1000 && floor(var.db_pool_max_connections) == var.db_pool_max_connections
    error_message = "db_pool_max_connections must be a whole number between 2 and 1000 (itemsd needs one connection for the health probe besides the shared ones)."
  }
}

variable "db_connection_headroom" {
  description = "Connections kept free beside the fleet's pools: itemsd migrate/check runs, an engineer's psql, monitoring, and RDS's reserved slots (superuser_reserved_connections 3 for rdsadmin). See docs/terraform.md."
  type        = number
  default     = 10

  validation {
    condition     = var.db_connection_headroom >= 5 && floor(var.db_connection_headroom) == var.db_connection_headroom
    error_message = "db_connection_headroom must be a whole number of at least 5 (RDS reserves 3 connections for rdsadmin alone)."
  }
}

variable "db_max_connections" {
  description = "max_connections of the database (the database module's max_connections output: a conservative estimate of RDS's default for its class, or the explicit override)."
  type        = number

  validation {
    condition     = var.db_max_connections >= 1
    error_message = "db_max_connections must be positive."
  }
}

variable "db_instance_class" {
  description = "The database's instance class, named in the connection budget's error message."
  type        = string
  default     = "the database"
}

# --- the shutdown timeline (docs/design.md section 3) --------------------------
#
#   ALB notices a failing /health after at most
#       unhealthy_threshold x interval + timeout = 2 x 10 + 5 = 25 s
#   => itemsd's pre-stop delay  SHUTDOWN_DELAY_SECONDS    = 25 s
#      itemsd's drain deadline  SHUTDOWN_TIMEOUT_SECONDS  = 30 s
#      log/metric flush bound (metrics 10 s, then logs 10 s) = 20 s
#   pre-stop + drain + flush = 25 + 30 + 20 = 75 s
#   ALB deregistration delay = 60 s  <= 75 s
#   systemd TimeoutStopSec   = 90 s  >  75 s
#   ALB idle timeout         = 60 s  <  hyper header_read_timeout (set above 60 s by itemsd)

variable "health_check_interval_seconds" {
  description = "ALB health check interval."
  type        = number
  default     = 10

  validation {
    condition     = var.health_check_interval_seconds >= 5 && var.health_check_interval_seconds <= 300
    error_message = "health_check_interval_seconds must be between 5 and 300."
  }
}

variable "health_check_timeout_seconds" {
  description = "ALB health check timeout; shorter than the interval."
  type        = number
  default     = 5

  validation {
    condition     = var.health_check_timeout_seconds >= 2 && var.health_check_timeout_seconds < var.health_check_interval_seconds
    error_message = "health_check_timeout_seconds must be at least 2 and shorter than health_check_interval_seconds."
  }
}

variable "health_check_healthy_threshold" {
  description = "Consecutive successes before a target is healthy."
  type        = number
  default     = 2

  validation {
    condition     = var.health_check_healthy_threshold >= 2 && var.health_check_healthy_threshold <= 10
    error_message = "health_check_healthy_threshold must be between 2 and 10."
  }
}

variable "health_check_unhealthy_threshold" {
  description = "Consecutive failures before a target is unhealthy."
  type        = number
  default     = 2

  validation {
    condition     = var.health_check_unhealthy_threshold >= 2 && var.health_check_unhealthy_threshold <= 10
    error_message = "health_check_unhealthy_threshold must be between 2 and 10."
  }
}

variable "shutdown_delay_seconds" {
  description = "itemsd's pre-stop delay (SHUTDOWN_DELAY_SECONDS): /health answers 503 but requests are still served, long enough for the ALB to see it: at least unhealthy_threshold x interval + timeout."
  type        = number
  default     = 25

  validation {
    condition     = var.shutdown_delay_seconds >= var.health_check_unhealthy_threshold * var.health_check_interval_seconds + var.health_check_timeout_seconds
    error_message = "shutdown_delay_seconds must be at least health_check_unhealthy_threshold x health_check_interval_seconds + health_check_timeout_seconds, or the ALB keeps routing to a stopped listener."
  }
}

variable "shutdown_timeout_seconds" {
  description = "itemsd's drain deadline for in-flight requests (SHUTDOWN_TIMEOUT_SECONDS)."
  type        = number
  default     = 30

  validation {
    condition     = var.shutdown_timeout_seconds >= 1 && var.shutdown_timeout_seconds <= 300
    error_message = "shutdown_timeout_seconds must be between 1 and 300."
  }
}

variable "log_flush_seconds" {
  description = "Bound on itemsd's background duties finishing at shutdown, the last metric publication and the log shipper's final flush among them: one budget for all (src/startup.rs DUTIES_STOP_BUDGET, 20 s; a Rust test checks this default against it)."
  type        = number
  default     = 20

  validation {
    condition     = var.log_flush_seconds >= 1 && var.log_flush_seconds <= 60
    error_message = "log_flush_seconds must be between 1 and 60."
  }
}

variable "systemd_timeout_stop_seconds" {
  description = "TimeoutStopSec of itemsd.service, written by the user data as the drop-in /etc/systemd/system/itemsd.service.d/50-terraform.conf (it overrides the image's 90 s); must exceed pre-stop + drain + flush, or systemd kills itemsd mid-flush."
  type        = number
  default     = 90

  validation {
    condition     = floor(var.systemd_timeout_stop_seconds) == var.systemd_timeout_stop_seconds && var.systemd_timeout_stop_seconds <= 3600 && var.systemd_timeout_stop_seconds > var.shutdown_delay_seconds + var.shutdown_timeout_seconds + var.log_flush_seconds
    error_message = "systemd_timeout_stop_seconds must be whole seconds, at most 3600, and greater than shutdown_delay_seconds + shutdown_timeout_seconds + log_flush_seconds."
  }
}

variable "deregistration_delay_seconds" {
  description = "ALB deregistration delay; must not exceed pre-stop + drain + flush (docs/design.md section 3)."
  type        = number
  default     = 60

  validation {
    condition     = var.deregistration_delay_seconds >= 0 && var.deregistration_delay_seconds <= var.shutdown_delay_seconds + var.shutdown_timeout_seconds + var.log_flush_seconds
    error_message = "deregistration_delay_seconds must be between 0 and shutdown_delay_seconds + shutdown_timeout_seconds + log_flush_seconds."
  }
}

variable "idle_timeout_seconds" {
  description = "ALB idle timeout; itemsd's keep-alive/header read timeout must be longer."
  type        = number
  default     = 60

  validation {
    condition     = var.idle_timeout_seconds >= 1 && var.idle_timeout_seconds <= 4000
    error_message = "idle_timeout_seconds must be between 1 and 4000."
  }
}

# --- load balancer ----------------------------------------------------------

variable "certificate_arn" {
  description = "ACM certificate for an HTTPS listener; when set, HTTP redirects to HTTPS."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN or null."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-TLS13-") || startswith(var.ssl_policy, "ELBSecurityPolicy-FS-1-2-")
    error_message = "ssl_policy must be a modern policy (ELBSecurityPolicy-TLS13-* or ELBSecurityPolicy-FS-1-2-*)."
  }
}

variable "alb_deletion_protection" {
  description = "Deletion protection of the ALB (prod)."
  type        = bool
  default     = true
}

variable "alb_access_logs_bucket" {
  description = "S3 bucket for ALB access logs (null: off)."
  type        = string
  default     = null
}

# --- Auto Scaling group --------------------------------------------------

variable "min_size" {
  description = "Minimum number of instances."
  type        = number
  default     = 1

  validation {
    condition     = var.min_size >= 0
    error_message = "min_size must be 0 or more."
  }
}

variable "max_size" {
  description = "Maximum number of instances."
  type        = number
  default     = 3

  validation {
    condition     = var.max_size >= var.min_size && var.max_size >= 1
    error_message = "max_size must be at least 1 and at least min_size."
  }
}

variable "desired_capacity" {
  description = "Initial desired capacity (later left to scaling policies)."
  type        = number
  default     = 1

  validation {
    condition     = var.desired_capacity >= var.min_size && var.desired_capacity <= var.max_size
    error_message = "desired_capacity must be between min_size and max_size."
  }
}

variable "instance_warmup_seconds" {
  description = "Default instance warmup: how long a new instance takes before its metrics count."
  type        = number
  default     = 60

  validation {
    condition     = var.instance_warmup_seconds >= 0 && var.instance_warmup_seconds <= 3600
    error_message = "instance_warmup_seconds must be between 0 and 3600."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds after launch before ELB health checks count (boot + itemsd start)."
  type        = number
  default     = 60

  validation {
    condition     = var.health_check_grace_period_seconds >= 0 && var.health_check_grace_period_seconds <= 7200
    error_message = "health_check_grace_period_seconds must be between 0 and 7200."
  }
}

variable "instance_refresh_enabled" {
  description = "Configure instance refresh on launch template changes. Off only for emulators that lack StartInstanceRefresh."
  type        = bool
  default     = true
}

variable "instance_refresh_min_healthy_percentage" {
  description = "Minimum healthy percentage during an instance refresh."
  type        = number
  default     = 90

  validation {
    condition     = var.instance_refresh_min_healthy_percentage >= 0 && var.instance_refresh_min_healthy_percentage <= 100
    error_message = "instance_refresh_min_healthy_percentage must be between 0 and 100."
  }
}

variable "instance_refresh_checkpoints" {
  description = "Checkpoint percentages of an instance refresh (e.g. [50, 100] in prod): whole numbers 1-100, strictly increasing, the last one 100 (AWS stops the refresh at the last checkpoint, so [50] would leave half the fleet on the old launch template). Empty: no checkpoints."
  type        = list(number)
  default     = []

  validation {
    condition = alltrue([
      for i, p in var.instance_refresh_checkpoints :
      p >= 1 && p <= 100 && floor(p) == p && (i == 0 || p > var.instance_refresh_checkpoints[max(i - 1, 0)])
    ])
    error_message = "instance_refresh_checkpoints must be whole percentages between 1 and 100, strictly increasing."
  }

  validation {
    condition     = length(var.instance_refresh_checkpoints) == 0 || try(var.instance_refresh_checkpoints[length(var.instance_refresh_checkpoints) - 1] == 100, false)
    error_message = "The last of instance_refresh_checkpoints must be 100: an instance refresh stops at its last checkpoint, and [50] would leave half the group on the old launch template."
  }
}

variable "instance_refresh_checkpoint_delay_seconds" {
  description = "Wait at each checkpoint."
  type        = number
  default     = 300

  validation {
    condition     = var.instance_refresh_checkpoint_delay_seconds >= 0 && var.instance_refresh_checkpoint_delay_seconds <= 172800
    error_message = "instance_refresh_checkpoint_delay_seconds must be between 0 and 172800."
  }
}

variable "rollback_alarm_names" {
  description = "CloudWatch alarms that roll an instance refresh back (the target 5xx and unhealthy-host alarms of the monitoring module)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.rollback_alarm_names) <= 10
    error_message = "At most 10 rollback alarms."
  }
}

variable "cpu_target_percent" {
  description = "Target tracking: average CPU of the group."
  type        = number
  default     = 50

  validation {
    condition     = var.cpu_target_percent > 0 && var.cpu_target_percent < 100
    error_message = "cpu_target_percent must be in (0, 100)."
  }
}

variable "requests_per_target" {
  description = "Target tracking: ALB requests per target per minute."
  type        = number
  default     = 1000

  validation {
    condition     = var.requests_per_target > 0
    error_message = "requests_per_target must be positive."
  }
}

variable "tags" {
  description = "Tags added to every resource (and propagated to instances)."
  type        = map(string)
  default     = {}
}
