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
  mock_data "aws_region" {
    defaults = {
      name = "eu-north-1"
    }
  }
}

override_resource {
  target          = aws_db_instance.this
  override_during = plan
  values = {
    address     = "itemsd-test-db.abcdefghijkl.eu-north-1.rds.amazonaws.com"
    port        = 5432
    resource_id = "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
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
  logs_kms_key_arn   = "arn:aws:kms:eu-north-1:123456789012:key/99999999-8888-7777-6666-555555555555"
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

# itemsd serves as its own role with IAM tokens; the iam module builds the
# dbuser ARN from these two outputs.
run "app_role_logs_in_with_iam_tokens" {
  command = plan

  assert {
    condition     = aws_db_instance.this.iam_database_authentication_enabled == true
    error_message = "IAM database authentication is on (itemsd's app role logs in with tokens)"
  }
  assert {
    condition     = output.app_username == "itemsd_app" && output.resource_id == "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    error_message = "the module outputs the app role (itemsd_app by default) and the instance's DbiResourceId"
  }
  assert {
    condition     = jsondecode(aws_secretsmanager_secret_version.connection.secret_string).username == "itemsd_admin"
    error_message = "the connection secret still names the master user: itemsd migrate logs in as the owner"
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
    # db.t4g.micro: floor(1 GiB x 0.7 / 9531392) = 78; 80 % of it is 62
    condition     = aws_cloudwatch_metric_alarm.connections.threshold == 62
    error_message = "connections alarm at 80 % of the class's max_connections"
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

run "max_connections_is_rds_default" {
  command = plan

  assert {
    condition     = !anytrue([for p in aws_db_parameter_group.this.parameter : p.name == "max_connections"])
    error_message = "the parameter group leaves max_connections at RDS's memory-based default"
  }
  assert {
    condition     = output.max_connections == 78 && output.connection_limit == 78
    error_message = "db.t4g.micro: floor(1 GiB x 0.7 / 9531392) = 78"
  }
}

run "max_connections_follows_the_class" {
  command = plan

  variables {
    instance_class = "db.r6g.2xlarge"
  }

  assert {
    # 64 GiB x 0.7 / 9531392 = 5042, capped at 5000
    condition     = output.max_connections == 5000
    error_message = "the estimate follows the class's memory and RDS's cap of 5000"
  }
}

run "max_connections_override_for_unknown_class" {
  command = plan

  variables {
    instance_class           = "db.x2g.large"
    max_connections_override = 1500
  }

  assert {
    condition     = output.max_connections == 1500 && aws_cloudwatch_metric_alarm.connections.threshold == 1200
    error_message = "an unknown class takes the explicit max_connections"
  }
}

run "exported_logs_have_retention_and_key" {
  command = plan

  variables {
    log_retention_days = 90
  }

  assert {
    condition = (
      toset(keys(aws_cloudwatch_log_group.this)) == toset(aws_db_instance.this.enabled_cloudwatch_logs_exports) &&
      aws_cloudwatch_log_group.this["postgresql"].name == "/aws/rds/instance/itemsd-test-db/postgresql" &&
      aws_cloudwatch_log_group.this["upgrade"].name == "/aws/rds/instance/itemsd-test-db/upgrade"
    )
    error_message = "a log group for every exported log, under the name RDS writes to"
  }
  assert {
    condition = alltrue([
      for g in aws_cloudwatch_log_group.this :
      g.retention_in_days == 90 && g.kms_key_id == "arn:aws:kms:eu-north-1:123456789012:key/99999999-8888-7777-6666-555555555555"
    ])
    error_message = "every exported log's group has the retention and the logs key"
  }
}

run "no_proxy_by_default" {
  command = plan

  assert {
    condition     = length(aws_db_proxy.this) == 0 && length(aws_iam_role.proxy) == 0 && output.proxy_endpoint == null
    error_message = "no proxy unless asked"
  }
  assert {
    condition     = output.connect_address == "itemsd-test-db.abcdefghijkl.eu-north-1.rds.amazonaws.com"
    error_message = "without a proxy itemsd connects to the instance"
  }
}

run "proxy_when_enabled" {
  command = plan

  variables {
    enable_proxy             = true
    proxy_security_group_ids = ["sg-0000000000000000d"]
  }

  override_resource {
    target          = aws_db_proxy.this
    override_during = plan
    values = {
      endpoint = "itemsd-test-proxy.proxy-abcdefghijkl.eu-north-1.rds.amazonaws.com"
    }
  }

  assert {
    condition = (
      aws_db_proxy.this[0].engine_family == "POSTGRESQL" &&
      aws_db_proxy.this[0].require_tls == true &&
      tolist(aws_db_proxy.this[0].vpc_security_group_ids) == tolist(["sg-0000000000000000d"])
    )
    error_message = "a PostgreSQL proxy that requires TLS, in its own security group"
  }
  assert {
    condition     = one(aws_db_proxy_default_target_group.this[0].connection_pool_config).init_query == "SET statement_timeout = 5000"
    error_message = "the proxy sets the statement timeout itemsd cannot send through it"
  }
  assert {
    condition = alltrue([
      for a in aws_db_proxy.this[0].auth :
      a.auth_scheme == "SECRETS" && a.iam_auth == "DISABLED" && a.client_password_auth_type == "POSTGRES_SCRAM_SHA_256" &&
      a.secret_arn == "arn:aws:secretsmanager:eu-north-1:123456789012:secret:rds!db-0000-AbCdEf"
    ]) && length(aws_db_proxy.this[0].auth) == 1
    error_message = "the proxy logs in with the RDS-managed master secret, SCRAM from clients, no IAM auth"
  }
  assert {
    condition = (
      jsondecode(aws_iam_role_policy.proxy[0].policy).Statement[0].Action == ["secretsmanager:GetSecretValue"] &&
      jsondecode(aws_iam_role_policy.proxy[0].policy).Statement[0].Resource == ["arn:aws:secretsmanager:eu-north-1:123456789012:secret:rds!db-0000-AbCdEf"] &&
      jsondecode(aws_iam_role_policy.proxy[0].policy).Statement[1].Action == ["kms:Decrypt"] &&
      jsondecode(aws_iam_role_policy.proxy[0].policy).Statement[1].Resource == ["arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"] &&
      jsondecode(aws_iam_role_policy.proxy[0].policy).Statement[1].Condition.StringEquals["kms:ViaService"] == "secretsmanager.eu-north-1.amazonaws.com" &&
      length(jsondecode(aws_iam_role_policy.proxy[0].policy).Statement) == 2
    )
    error_message = "the proxy's role reads only the master secret, and decrypts it only through Secrets Manager"
  }
  assert {
    condition = (
      aws_db_proxy_default_target_group.this[0].connection_pool_config[0].max_connections_percent == 90 &&
      aws_db_proxy_target.this[0].db_instance_identifier == "itemsd-test-db"
    )
    error_message = "the default target group pools up to 90 % of max_connections, targeting the instance"
  }
  assert {
    condition = (
      output.connect_address == "itemsd-test-proxy.proxy-abcdefghijkl.eu-north-1.rds.amazonaws.com" &&
      jsondecode(aws_secretsmanager_secret_version.connection.secret_string).host == "itemsd-test-proxy.proxy-abcdefghijkl.eu-north-1.rds.amazonaws.com"
    )
    error_message = "with the proxy, the connection secret's host is the proxy endpoint"
  }
  assert {
    # floor(78 x 90 %) = 70
    condition     = output.connection_limit == 70
    error_message = "the application's connection limit is the proxy's share of max_connections"
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

run "rejects_bad_max_connections_override" {
  command = plan
  variables {
    max_connections_override = 5
  }
  expect_failures = [var.max_connections_override]
}

run "rejects_unknown_class_without_override" {
  command = plan
  variables {
    instance_class = "db.x2g.large"
  }
  expect_failures = [var.max_connections_override]
}

run "rejects_bad_log_retention" {
  command = plan
  variables {
    log_retention_days = 10
  }
  expect_failures = [var.log_retention_days]
}

run "rejects_bad_logs_key" {
  command = plan
  variables {
    logs_kms_key_arn = "alias/aws/logs"
  }
  expect_failures = [var.logs_kms_key_arn]
}

run "rejects_proxy_without_security_group" {
  command = plan
  variables {
    enable_proxy = true
  }
  expect_failures = [var.proxy_security_group_ids]
}

run "rejects_bad_proxy_percent" {
  command = plan
  variables {
    proxy_max_connections_percent = 0
  }
  expect_failures = [var.proxy_max_connections_percent]
}

run "rejects_idle_above_max_percent" {
  command = plan
  variables {
    proxy_max_connections_percent      = 40
    proxy_max_idle_connections_percent = 50
  }
  expect_failures = [var.proxy_max_idle_connections_percent]
}

run "rejects_bad_borrow_timeout" {
  command = plan
  variables {
    proxy_connection_borrow_timeout_seconds = 0
  }
  expect_failures = [var.proxy_connection_borrow_timeout_seconds]
}

run "rejects_bad_idle_client_timeout" {
  command = plan
  variables {
    proxy_idle_client_timeout_seconds = 0
  }
  expect_failures = [var.proxy_idle_client_timeout_seconds]
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

run "rejects_proxy_statement_timeout_out_of_range" {
  command = plan
  variables {
    proxy_statement_timeout_ms = 0
  }
  expect_failures = [var.proxy_statement_timeout_ms]
}

run "rejects_bad_app_username" {
  command = plan
  variables {
    app_username = "Itemsd-App"
  }
  expect_failures = [var.app_username]
}

run "rejects_app_username_equal_to_master" {
  command = plan
  variables {
    master_username = "itemsd_owner"
    app_username    = "itemsd_owner"
  }
  expect_failures = [var.app_username]
}

run "rejects_reserved_app_username" {
  command = plan
  variables {
    app_username = "pg_itemsd"
  }
  expect_failures = [var.app_username]
}
