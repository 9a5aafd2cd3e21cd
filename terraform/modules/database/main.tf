# RDS PostgreSQL for itemsd.
#
# - The master password is generated, stored and rotated by RDS in Secrets
#   Manager (manage_master_user_password); it never appears in Terraform state.
# - A second secret, the "connection secret", holds only where to connect and
#   where the password is: {host, port, dbname, username, masterUserSecretArn}.
#   itemsd gets its ARN as DB_SECRET_ARN and reads the password from
#   masterUserSecretArn (re-reading it after a rotation).
# - One customer-managed KMS key encrypts storage, both secrets, Performance
#   Insights and the exported logs' snapshots.
# - The parameter group forces TLS (rds.force_ssl = 1) and leaves
#   max_connections at RDS's memory-based default; local.max_connections
#   estimates it for the connection budget (docs/terraform.md).
# - The log groups RDS exports to are created here, with retention and KMS,
#   before the instance (RDS would create them without either).
# - enable_proxy puts an RDS Proxy in front (docs/terraform.md: what pins).
# - Two roles (docs/terraform.md, the database roles): the master user owns the
#   schema and is what `itemsd migrate` logs in as; var.app_username is what
#   itemsd serves as, logging in with IAM tokens (iam_database_authentication
#   below). PostgreSQL roles are not AWS resources: itemsd migrate creates the
#   app role and its grants; this module only names it and exports the
#   instance's resource_id, which the iam module's rds-db:connect ARN needs.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  identifier    = "${var.name}-db"
  major_version = split(".", var.engine_version)[0]
  family        = "postgres${local.major_version}"

  # Classes on which RDS for PostgreSQL offers no Performance Insights.
  pi_unsupported_classes = ["db.t2.micro", "db.t2.small", "db.t3.micro", "db.t3.small", "db.t4g.micro", "db.t4g.small"]
  pi_supported           = !contains(local.pi_unsupported_classes, var.instance_class)
  performance_insights   = coalesce(var.performance_insights_enabled, local.pi_supported) && local.pi_supported

  # RDS for PostgreSQL's default: max_connections = LEAST({DBInstanceClassMemory/9531392}, 5000).
  # DBInstanceClassMemory is the class's memory less what RDS keeps for the OS
  # and its own processes; measured defaults (t2.small 198, t2.medium 413,
  # t2.large 856, i.e. 88-95 % of nominal memory; about 81 on 1 GiB classes,
  # i.e. about 72 %) vary by class and version. 0.7 of the nominal memory is
  # below every one of them, so the estimate errs on the low side.
  class_memory_gib = {
    "db.t3.micro"    = 1
    "db.t4g.micro"   = 1
    "db.t3.small"    = 2
    "db.t4g.small"   = 2
    "db.t3.medium"   = 4
    "db.t4g.medium"  = 4
    "db.t3.large"    = 8
    "db.t4g.large"   = 8
    "db.m6g.large"   = 8
    "db.m6g.xlarge"  = 16
    "db.m6g.2xlarge" = 32
    "db.m7g.large"   = 8
    "db.m7g.xlarge"  = 16
    "db.m7g.2xlarge" = 32
    "db.r6g.large"   = 16
    "db.r6g.xlarge"  = 32
    "db.r6g.2xlarge" = 64
    "db.r7g.large"   = 16
    "db.r7g.xlarge"  = 32
    "db.r7g.2xlarge" = 64
  }
  class_memory_factor = 0.7
  estimated_max_connections = (
    contains(keys(local.class_memory_gib), var.instance_class)
    ? min(floor(local.class_memory_gib[var.instance_class] * 1073741824 * local.class_memory_factor / 9531392), 5000)
    : null
  )
  max_connections = coalesce(var.max_connections_override, local.estimated_max_connections)

  # What the application may open in total: the database's own limit, or the
  # part of it the proxy's pool may take.
  connection_limit = var.enable_proxy ? floor(local.max_connections * var.proxy_max_connections_percent / 100) : local.max_connections

  log_exports = ["postgresql", "upgrade"]

  proxy_name = "${var.name}-proxy"
  # Where itemsd connects: the proxy when there is one.
  connect_address = var.enable_proxy ? aws_db_proxy.this[0].endpoint : aws_db_instance.this.address
}

resource "aws_kms_key" "this" {
  description             = "${local.identifier}: RDS storage, master and connection secrets"
  deletion_window_in_days = 30
  enable_key_rotation     = true

  # The account's IAM policies decide who may use the key (the instance role
  # gets kms:Decrypt through Secrets Manager only); RDS and Secrets Manager use
  # it through grants.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountIAMPolicies"
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })

  tags = merge(var.tags, { Name = local.identifier })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.identifier}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_db_subnet_group" "this" {
  name_prefix = "${var.name}-"
  description = "Database subnets of ${local.identifier}"
  subnet_ids  = var.subnet_ids

  tags = merge(var.tags, { Name = local.identifier })
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-${local.family}-"
  family      = local.family
  description = "${local.identifier}: TLS forced, slow statements logged"

  # No max_connections: RDS's default follows the class's memory (see
  # local.max_connections); a fixed number would be wrong for all but one class.

  # Refuse every connection that is not TLS.
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = tostring(var.log_min_duration_statement_ms)
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_iam_role" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  name_prefix = "${substr(var.name, 0, 20)}-rds-mon-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  role       = aws_iam_role.monitoring[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# RDS exports its logs to these groups; created here first, so that they get a
# retention and the monitoring key instead of RDS's never-expiring defaults.
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (14 days in dev, 90 in prod); the database's audit trail is its backups and CloudTrail, not these logs.
  for_each = toset(local.log_exports)

  name              = "/aws/rds/instance/${local.identifier}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn

  tags = var.tags
}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV_AWS_353:Performance Insights is on wherever the instance class supports it (local.performance_insights); db.t4g.micro in dev does not.
  #checkov:skip=CKV_AWS_157:Multi-AZ is a variable: on in prod, off in dev to halve the cost.
  #checkov:skip=CKV_AWS_293:Deletion protection is a variable: on in prod, off in dev so that the environment can be destroyed.
  identifier     = local.identifier
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage == 0 ? null : var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.this.arn

  db_name  = var.db_name
  username = var.master_username
  port     = var.port

  # The password is RDS's business: generated, kept in Secrets Manager under
  # our key, rotated every 7 days, never in state.
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.this.arn

  # itemsd serves as var.app_username with IAM auth tokens instead of a
  # password (the iam module grants rds-db:connect to that one user).
  iam_database_authentication_enabled = true

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = var.security_group_ids
  publicly_accessible    = false
  multi_az               = var.multi_az
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period   = var.backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = !var.deletion_protection
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : "${local.identifier}-final"

  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = local.log_exports

  monitoring_interval = var.monitoring_interval
  monitoring_role_arn = var.monitoring_interval > 0 ? aws_iam_role.monitoring[0].arn : null

  performance_insights_enabled          = local.performance_insights
  performance_insights_kms_key_id       = local.performance_insights ? aws_kms_key.this.arn : null
  performance_insights_retention_period = local.performance_insights ? 7 : null

  tags = merge(var.tags, { Name = local.identifier })

  depends_on = [aws_iam_role_policy_attachment.monitoring, aws_cloudwatch_log_group.this]
}

# The connection secret itemsd reads through DB_SECRET_ARN. No password in it.
resource "aws_secretsmanager_secret" "connection" {
  #checkov:skip=CKV2_AWS_57:Holds no credential (host, port, dbname, username and the ARN of the RDS-managed secret); the password itself is rotated by RDS every 7 days.
  name_prefix             = "${var.name}/db-connection-"
  description             = "Where itemsd connects: host, port, dbname, username and the ARN of the RDS-managed password secret"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.deletion_protection ? 30 : 0

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "connection" {
  secret_id = aws_secretsmanager_secret.connection.id
  secret_string = jsonencode({
    engine              = "postgres"
    host                = local.connect_address
    port                = aws_db_instance.this.port
    dbname              = var.db_name
    username            = var.master_username
    masterUserSecretArn = aws_db_instance.this.master_user_secret[0].secret_arn
  })
}

# --- RDS Proxy (enable_proxy) ---------------------------------------------------
#
# The proxy logs in to PostgreSQL with the RDS-managed master secret (and so
# follows its rotation); itemsd logs in to the proxy with the same user and
# password (SCRAM), over TLS. Read docs/terraform.md before switching it on:
# itemsd's named prepared statements, its startup options and its advisory lock
# pin or break proxy sessions.

resource "aws_iam_role" "proxy" {
  count = var.enable_proxy ? 1 : 0

  name_prefix = "${substr(var.name, 0, 20)}-rds-proxy-"
  description = "RDS Proxy of ${local.identifier}: reads the master secret"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "rds.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "proxy" {
  count = var.enable_proxy ? 1 : 0

  name = "read-master-secret"
  role = aws_iam_role.proxy[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadMasterSecret"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = [aws_db_instance.this.master_user_secret[0].secret_arn]
      },
      {
        # The master secret is encrypted with this module's key.
        Sid       = "DecryptMasterSecret"
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = [aws_kms_key.this.arn]
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${data.aws_region.current.name}.amazonaws.com" } }
      },
    ]
  })
}

resource "aws_db_proxy" "this" {
  count = var.enable_proxy ? 1 : 0

  name                   = local.proxy_name
  engine_family          = "POSTGRESQL"
  require_tls            = true
  debug_logging          = false
  idle_client_timeout    = var.proxy_idle_client_timeout_seconds
  role_arn               = aws_iam_role.proxy[0].arn
  vpc_subnet_ids         = var.subnet_ids
  vpc_security_group_ids = var.proxy_security_group_ids

  auth {
    description               = "RDS-managed master secret"
    auth_scheme               = "SECRETS"
    secret_arn                = aws_db_instance.this.master_user_secret[0].secret_arn
    iam_auth                  = "DISABLED"
    client_password_auth_type = "POSTGRES_SCRAM_SHA_256"
  }

  tags = merge(var.tags, { Name = local.proxy_name })

  depends_on = [aws_iam_role_policy.proxy]
}

resource "aws_db_proxy_default_target_group" "this" {
  count = var.enable_proxy ? 1 : 0

  db_proxy_name = aws_db_proxy.this[0].name

  connection_pool_config {
    max_connections_percent      = var.proxy_max_connections_percent
    max_idle_connections_percent = var.proxy_max_idle_connections_percent
    connection_borrow_timeout    = var.proxy_connection_borrow_timeout_seconds
    # itemsd sends no startup options through the proxy (it refuses them; DB_RDS_PROXY),
    # so the statement timeout is set here, once per database connection, without pinning.
    init_query = "SET statement_timeout = ${var.proxy_statement_timeout_ms}"
  }
}

resource "aws_db_proxy_target" "this" {
  count = var.enable_proxy ? 1 : 0

  db_proxy_name          = aws_db_proxy.this[0].name
  target_group_name      = aws_db_proxy_default_target_group.this[0].name
  db_instance_identifier = aws_db_instance.this.identifier
}

# --- the original's RDS alarms, now all notifying someone ------------------

resource "aws_cloudwatch_metric_alarm" "cpu" {
  alarm_name          = "${local.identifier}-high-cpu"
  alarm_description   = "RDS CPU above ${var.alarm_cpu_percent} % for 10 minutes"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.this.identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_cpu_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "storage" {
  alarm_name          = "${local.identifier}-low-storage"
  alarm_description   = "RDS free storage below ${var.alarm_free_storage_bytes} bytes"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.this.identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = var.alarm_free_storage_bytes
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "memory" {
  alarm_name          = "${local.identifier}-low-memory"
  alarm_description   = "RDS freeable memory below ${var.alarm_freeable_memory_bytes} bytes for 10 minutes"
  namespace           = "AWS/RDS"
  metric_name         = "FreeableMemory"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.this.identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = var.alarm_freeable_memory_bytes
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "connections" {
  alarm_name          = "${local.identifier}-high-connections"
  alarm_description   = "RDS connections above 80 % of max_connections (${local.max_connections}) for 10 minutes"
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.this.identifier }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = floor(local.max_connections * 0.8)
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
