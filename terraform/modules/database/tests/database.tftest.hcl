# Plan-only tests of the database module against a mocked AWS provider. The
# DB instance gets an address and an RDS-managed secret during plan, so the
# connection secret's content can be checked.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
}

override_resource {
  target          = aws_db_instance.this
  override_during = plan
  values = {
    address = "itemsd-test-db.abcdefghijkl.eu-north-1.rds.amazonaws.com"
    port    = 5432
    master_user_secret = [{
      secret_arn    = "arn:aws:secretsmanager:eu-north-1:123456789012:secret:rds!db-0000-AbCdEf"
      kms_key_id    = "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      secret_status = "active"
    }]
  }
}

override_resource {
  target          = aws_kms_key.this
  override_during = plan
  values = {
    arn    = "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    key_id = "11111111-2222-3333-4444-555555555555"
  }
}

variables {
  name               = "itemsd-test"
  subnet_ids         = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
  security_group_ids = ["sg-0000000000000000c"]
  alarm_actions      = ["arn:aws:sns:eu-north-1:123456789012:itemsd-test-alarms"]
}

run "private_encrypted_password_never_in_state" {
  command = plan

  assert {
    condition     = aws_db_instance.this.publicly_accessible == false
    error_message = "RDS must not be publicly accessible"
  }
  assert {
    condition     = aws_db_instance.this.storage_encrypted == true
    error_message = "RDS storage must be encrypted"
  }
  assert {
    condition     = aws_db_instance.this.manage_master_user_password == true && aws_db_instance.this.password == null
    error_message = "the master password must be managed by RDS, never set from Terraform"
  }
  assert {
    condition     = aws_kms_key.this.enable_key_rotation == true
    error_message = "the KMS key rotates"
  }
  assert {
    condition     = aws_secretsmanager_secret.connection.kms_key_id == aws_kms_key.this.arn && aws_db_instance.this.kms_key_id == aws_kms_key.this.arn
    error_message = "the connection secret is encrypted with the customer key"
  }
}

run "tls_is_forced" {
  command = plan

  assert {
    condition     = anytrue([for p in aws_db_parameter_group.this.parameter : p.name == "rds.force_ssl" && p.value == "1"])
    error_message = "the parameter group must set rds.force_ssl = 1"
  }
  assert {
    condition     = aws_db_parameter_group.this.family == "postgres16"
    error_message = "the parameter group family follows the engine's major version"
  }
}

run "connection_secret_has_the_original_shape" {
  command = plan

  assert {
    condition = (
      jsondecode(aws_secretsmanager_secret_version.connection.secret_string).host == "itemsd-test-db.abcdefghijkl.eu-north-1.rds.amazonaws.com" &&
      jsondecode(aws_secretsmanager_secret_version.connection.secret_string).port == 5432 &&
      jsondecode(aws_secretsmanager_secret_version.connection.secret_string).dbname == "itemsd" &&
      jsondecode(aws_secretsmanager_secret_version.connection.secret_string).username == "itemsd_admin" &&
      jsondecode(aws_secretsmanager_secret_version.connection.secret_string).masterUserSecretArn == "arn:aws:secretsmanager:eu-north-1:123456789012:secret:rds!db-0000-AbCdEf"
    )
    error_message = "the connection secret holds host, port, dbname, username and masterUserSecretArn"
  }
  assert {
    condition     = length(setintersection(keys(jsondecode(aws_secretsmanager_secret_version.connection.secret_string)), ["password", "Password", "PASSWORD"])) == 0
    error_message = "the connection secret must hold no password"
  }
}

run "every_alarm_notifies" {
  command = plan

  assert {
    condition = alltrue([
      for a in [aws_cloudwatch_metric_alarm.cpu, aws_cloudwatch_metric_alarm.storage, aws_cloudwatch_metric_alarm.memory, aws_cloudwatch_metric_alarm.connections] :
      length(a.alarm_actions) > 0 && length(a.ok_actions) > 0
    ])
    error_message = "every RDS alarm has an alarm and an OK action"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.connections.threshold == 80
    error_message = "connections alarm at 80 % of max_connections"
  }
}

run "dev_profile" {
  command = plan

  variables {
    backup_retention_days = 1
    deletion_protection   = false
    skip_final_snapshot   = true
  }

  assert {
    condition     = aws_db_instance.this.backup_retention_period == 1 && aws_db_instance.this.multi_az == false && aws_db_instance.this.skip_final_snapshot == true
    error_message = "dev: 1 day of backups, single AZ, no final snapshot"
  }
  assert {
    condition     = aws_db_instance.this.performance_insights_enabled == false
    error_message = "db.t4g.micro has no Performance Insights"
  }
}

run "prod_profile" {
  command = plan

  variables {
    instance_class        = "db.t4g.medium"
    multi_az              = true
    backup_retention_days = 30
    deletion_protection   = true
  }

  assert {
    condition     = aws_db_instance.this.multi_az && aws_db_instance.this.deletion_protection && aws_db_instance.this.backup_retention_period == 30
    error_message = "prod: Multi-AZ, deletion protection, 30 days of backups"
  }
  assert {
    condition     = aws_db_instance.this.skip_final_snapshot == false && aws_db_instance.this.final_snapshot_identifier == "itemsd-test-db-final"
    error_message = "prod keeps a final snapshot"
  }
  assert {
    condition     = aws_db_instance.this.performance_insights_enabled == true
    error_message = "Performance Insights is on where the class allows it"
  }
}

# --- one run per validation block -------------------------------------------

run "rejects_bad_name" {
  command = plan
  variables {
    name = "9lives"
  }
  expect_failures = [var.name]
}

run "rejects_one_subnet" {
  command = plan
  variables {
    subnet_ids = ["subnet-0000000000000000a"]
  }
  expect_failures = [var.subnet_ids]
}

run "rejects_no_security_group" {
  command = plan
  variables {
    security_group_ids = []
  }
  expect_failures = [var.security_group_ids]
}

run "rejects_old_engine" {
  command = plan
  variables {
    engine_version = "12.1"
  }
  expect_failures = [var.engine_version]
}

run "rejects_bad_class" {
  command = plan
  variables {
    instance_class = "t4g.micro"
  }
  expect_failures = [var.instance_class]
}

run "rejects_small_storage" {
  command = plan
  variables {
    allocated_storage = 5
  }
  expect_failures = [var.allocated_storage]
}

run "rejects_storage_ceiling_below_size" {
  command = plan
  variables {
    allocated_storage     = 50
    max_allocated_storage = 30
  }
  expect_failures = [var.max_allocated_storage]
}

run "rejects_bad_db_name" {
  command = plan
  variables {
    db_name = "items-db"
  }
  expect_failures = [var.db_name]
}

run "rejects_reserved_username" {
  command = plan
  variables {
    master_username = "postgres"
  }
  expect_failures = [var.master_username]
}

run "rejects_bad_port" {
  command = plan
  variables {
    port = 80
  }
  expect_failures = [var.port]
}

run "rejects_no_backups" {
  command = plan
  variables {
    backup_retention_days = 0
  }
  expect_failures = [var.backup_retention_days]
}

run "rejects_protected_without_final_snapshot" {
  command = plan
  variables {
    deletion_protection = true
    skip_final_snapshot = true
  }
  expect_failures = [var.skip_final_snapshot]
}

run "rejects_bad_monitoring_interval" {
  command = plan
  variables {
    monitoring_interval = 7
  }
  expect_failures = [var.monitoring_interval]
}

run "rejects_bad_max_connections" {
  command = plan
  variables {
    max_connections = 5
  }
  expect_failures = [var.max_connections]
}

run "rejects_bad_log_min_duration" {
  command = plan
  variables {
    log_min_duration_statement_ms = -5
  }
  expect_failures = [var.log_min_duration_statement_ms]
}

run "rejects_alarms_without_action" {
  command = plan
  variables {
    alarm_actions = []
  }
  expect_failures = [var.alarm_actions]
}

run "rejects_bad_cpu_threshold" {
  command = plan
  variables {
    alarm_cpu_percent = 150
  }
  expect_failures = [var.alarm_cpu_percent]
}

run "rejects_bad_storage_threshold" {
  command = plan
  variables {
    alarm_free_storage_bytes = 0
  }
  expect_failures = [var.alarm_free_storage_bytes]
}

run "rejects_bad_memory_threshold" {
  command = plan
  variables {
    alarm_freeable_memory_bytes = -1
  }
  expect_failures = [var.alarm_freeable_memory_bytes]
}

run "rejects_forced_insights_on_small_class" {
  command = plan
  variables {
    performance_insights_enabled = true
  }
  expect_failures = [var.performance_insights_enabled]
}
