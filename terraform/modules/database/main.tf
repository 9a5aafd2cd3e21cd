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
# - The parameter group forces TLS (rds.force_ssl = 1).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  identifier    = "${var.name}-db"
  major_version = split(".", var.engine_version)[0]
  family        = "postgres${local.major_version}"

  # Classes on which RDS for PostgreSQL offers no Performance Insights.
  pi_unsupported_classes = ["db.t2.micro", "db.t2.small", "db.t3.micro", "db.t3.small", "db.t4g.micro", "db.t4g.small"]
  pi_supported           = !contains(local.pi_unsupported_classes, var.instance_class)
  performance_insights   = coalesce(var.performance_insights_enabled, local.pi_supported) && local.pi_supported
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

  parameter {
    name         = "max_connections"
    value        = tostring(var.max_connections)
    apply_method = "pending-reboot"
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
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]

  monitoring_interval = var.monitoring_interval
  monitoring_role_arn = var.monitoring_interval > 0 ? aws_iam_role.monitoring[0].arn : null

  performance_insights_enabled          = local.performance_insights
  performance_insights_kms_key_id       = local.performance_insights ? aws_kms_key.this.arn : null
  performance_insights_retention_period = local.performance_insights ? 7 : null

  tags = merge(var.tags, { Name = local.identifier })

  depends_on = [aws_iam_role_policy_attachment.monitoring]
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
    host                = aws_db_instance.this.address
    port                = aws_db_instance.this.port
    dbname              = var.db_name
    username            = var.master_username
    masterUserSecretArn = aws_db_instance.this.master_user_secret[0].secret_arn
  })
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
  alarm_description   = "RDS connections above 80 % of max_connections (${var.max_connections}) for 10 minutes"
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.this.identifier }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = floor(var.max_connections * 0.8)
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
