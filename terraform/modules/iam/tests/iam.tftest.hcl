# Plan-only tests of the iam module against a mocked AWS provider: the inline
# policy is exactly what itemsd does, and every statement is scoped.

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

variables {
  name = "itemsd-test"
  secret_arns = [
    "arn:aws:secretsmanager:eu-north-1:123456789012:secret:itemsd-test/db-connection-20240101-AbCdEf",
    "arn:aws:secretsmanager:eu-north-1:123456789012:secret:rds!db-0000-AbCdEf",
  ]
  secrets_kms_key_arns = ["arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"]
  log_group_arn        = "arn:aws:logs:eu-north-1:123456789012:log-group:/itemsd/itemsd-test"
  db_iam_user          = "itemsd_app"
  db_resource_id       = "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
  ssm_log_group_arn    = "arn:aws:logs:eu-north-1:123456789012:log-group:/itemsd/itemsd-test/ssm"
  session_kms_key_arn  = "arn:aws:kms:eu-north-1:123456789012:key/99999999-8888-7777-6666-555555555555"
}

run "statements_are_scoped" {
  command = plan

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      s.Effect == "Allow" && (
        !contains(flatten([s.Resource]), "*") ||
        (s.Action == ["cloudwatch:PutMetricData"] && try(s.Condition.StringEquals["cloudwatch:namespace"], "") == "Itemsd")
      )
    ])
    error_message = "no statement may use Resource \"*\" except PutMetricData, which must be conditioned on its namespace"
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      alltrue([for a in flatten([s.Action]) : !endswith(a, ":*") && a != "*"])
    ])
    error_message = "no wildcard actions"
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      alltrue([for a in flatten([s.Action]) : !startswith(a, "ecr:")])
    ])
    error_message = "no ECR permissions (there is no container)"
  }
  assert {
    condition     = aws_iam_role_policy_attachment.ssm_core.policy_arn == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    error_message = "the only managed policy is SSM core (no CloudWatch agent policy)"
  }
}

run "each_permission_targets_its_resource" {
  command = plan

  assert {
    condition     = tolist([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "ReadDatabaseSecrets"][0]) == var.secret_arns
    error_message = "secrets: exactly the two secret ARNs"
  }
  assert {
    condition = (
      tolist([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "DecryptDatabaseSecrets"][0]) == var.secrets_kms_key_arns &&
      [for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Condition.StringEquals["kms:ViaService"] if s.Sid == "DecryptDatabaseSecrets"][0] == "secretsmanager.eu-north-1.amazonaws.com"
    )
    error_message = "KMS: decrypt with the secrets' key, through Secrets Manager only"
  }
  assert {
    condition     = tolist([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "WriteOwnLogStreams"][0]) == tolist(["arn:aws:logs:eu-north-1:123456789012:log-group:/itemsd/itemsd-test:log-stream:*"])
    error_message = "logs: only streams of its own log group"
  }
  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "ec2.amazonaws.com"
    error_message = "only EC2 assumes the role"
  }
}

# itemsd logs in to PostgreSQL as itemsd_app with an IAM token: the role may
# connect as that one user of that one instance, nothing wider.
run "database_login_is_one_user_of_one_instance" {
  command = plan

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Action if s.Sid == "ConnectAsAppDatabaseUser"] == [["rds-db:connect"]]
    error_message = "one statement grants rds-db:connect, and only that"
  }
  assert {
    condition = tolist([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "ConnectAsAppDatabaseUser"][0]) == tolist([
      "arn:aws:rds-db:eu-north-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/itemsd_app",
    ])
    error_message = "rds-db:connect is scoped to arn:aws:rds-db:<region>:<account>:dbuser:<resource id>/itemsd_app"
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      alltrue([for r in flatten([s.Resource]) : endswith(r, "/itemsd_app") && strcontains(r, ":dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/") && !strcontains(r, "*")])
      if contains(flatten([s.Action]), "rds-db:connect")
    ])
    error_message = "every rds-db:connect resource names the instance's resource id and ends with /itemsd_app, no wildcard"
  }
  assert {
    condition     = output.db_user_arn == "arn:aws:rds-db:eu-north-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/itemsd_app"
    error_message = "db_user_arn is the statement's one resource"
  }
  assert {
    # The gap, on purpose: itemsd migrate (same instance, same role) logs in
    # as the owner with the master password.
    condition     = tolist([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "ReadDatabaseSecrets"][0]) == var.secret_arns
    error_message = "the master secret stays readable for itemsd migrate"
  }
}

# Behind the RDS Proxy the environments pass no app role: no rds-db:connect.
run "no_database_login_without_app_role" {
  command = plan

  variables {
    db_iam_user    = null
    db_resource_id = null
  }

  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if contains(flatten([s.Action]), "rds-db:connect")]) == 0
    error_message = "no rds-db:connect without an app role"
  }
  assert {
    condition     = !contains(output.instance_action_list, "rds-db:connect") && output.db_user_arn == null
    error_message = "instance_action_list and db_user_arn follow the policy"
  }
}

# The binary calls GetSecretValue, CreateLogStream, PutLogEvents and
# PutMetricData (grep src/ for .get_secret_value(), .create_log_stream(),
# .put_log_events(), .put_metric_data()); Secrets Manager needs kms:Decrypt on
# the secrets' key; RDS checks rds-db:connect when itemsd logs in with an IAM
# token it signed. The SSM agent adds DescribeLogStreams and DescribeLogGroups
# for its own log group and kms:Decrypt on the session key (the next run).
# Nothing else: no DescribeSecret, no CreateLogGroup (Terraform owns the
# groups), no lifecycle actions.
run "grants_exactly_what_itemsd_calls" {
  command = plan

  assert {
    condition = sort(distinct(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : flatten([s.Action])]))) == tolist([
      "cloudwatch:PutMetricData",
      "kms:Decrypt",
      "logs:CreateLogStream",
      "logs:DescribeLogGroups",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
      "rds-db:connect",
      "secretsmanager:GetSecretValue",
    ])
    error_message = "the inline policy grants exactly GetSecretValue, kms:Decrypt, CreateLogStream, PutLogEvents, PutMetricData and rds-db:connect, and for the SSM agent DescribeLogStreams and DescribeLogGroups"
  }
  assert {
    condition     = output.instance_action_list == sort(distinct(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : flatten([s.Action])])))
    error_message = "instance_action_list is the policy's action list"
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      tolist(flatten([s.Action])) == tolist(jsondecode(file("instance-actions.json"))[s.Sid])
    ])
    error_message = "every statement takes its actions from instance-actions.json"
  }
  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if startswith(s.Sid, "Describe") || strcontains(s.Sid, "Lifecycle")]) == 0
    error_message = "no Describe* or lifecycle statement"
  }
}

# Session transcripts and Run Command output: the SSM agent writes the ssm
# module's group and no other, and decrypts session data with its key only.
run "ssm_agent_writes_only_its_log_group" {
  command = plan

  assert {
    condition     = tolist([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "WriteSsmLogs"][0]) == tolist(["arn:aws:logs:eu-north-1:123456789012:log-group:/itemsd/itemsd-test/ssm:*"])
    error_message = "SSM logs: streams of the ssm log group only"
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      alltrue([for r in flatten([s.Resource]) : r == "arn:aws:logs:eu-north-1:123456789012:log-group:/itemsd/itemsd-test/ssm:*" || r == "arn:aws:logs:eu-north-1:123456789012:log-group:/itemsd/itemsd-test:log-stream:*"])
      if length([for a in flatten([s.Action]) : a if contains(["logs:CreateLogStream", "logs:PutLogEvents"], a)]) > 0
    ])
    error_message = "nothing may write a log group but itemsd's own and the ssm one"
  }
  assert {
    condition = (
      [for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if s.Sid == "FindSsmLogGroup"][0].Action == ["logs:DescribeLogGroups"] &&
      tolist([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "FindSsmLogGroup"][0]) == tolist(["arn:aws:logs:eu-north-1:123456789012:log-group:*"])
    )
    error_message = "DescribeLogGroups alone, in this account and region"
  }
  assert {
    condition = (
      tolist([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "DecryptSessionData"][0]) == tolist([var.session_kms_key_arn]) &&
      [for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Action if s.Sid == "DecryptSessionData"][0] == ["kms:Decrypt"]
    )
    error_message = "session data: kms:Decrypt with the session key only"
  }
}

# --- one run per validation block -------------------------------------------

run "rejects_bad_name" {
  command = plan
  variables {
    name = "x"
  }
  expect_failures = [var.name]
}

run "rejects_wildcard_secret" {
  command = plan
  variables {
    secret_arns = ["*"]
  }
  expect_failures = [var.secret_arns]
}

run "rejects_bad_kms_key" {
  command = plan
  variables {
    secrets_kms_key_arns = ["alias/aws/secretsmanager"]
  }
  expect_failures = [var.secrets_kms_key_arns]
}

run "rejects_wildcard_log_group" {
  command = plan
  variables {
    log_group_arn = "arn:aws:logs:eu-north-1:123456789012:log-group:*"
  }
  expect_failures = [var.log_group_arn]
}

run "rejects_aws_namespace" {
  command = plan
  variables {
    metrics_namespace = "AWS/EC2"
  }
  expect_failures = [var.metrics_namespace]
}

run "rejects_bad_db_iam_user" {
  command = plan
  variables {
    db_iam_user = "ItemsdApp"
  }
  expect_failures = [var.db_iam_user]
}

run "rejects_db_iam_user_without_resource_id" {
  command = plan
  variables {
    db_resource_id = null
  }
  expect_failures = [var.db_iam_user]
}

run "rejects_instance_identifier_as_resource_id" {
  command = plan
  variables {
    db_resource_id = "itemsd-test-db"
  }
  expect_failures = [var.db_resource_id]
}

run "rejects_wildcard_ssm_log_group" {
  command = plan
  variables {
    ssm_log_group_arn = "arn:aws:logs:eu-north-1:123456789012:log-group:/itemsd/*"
  }
  expect_failures = [var.ssm_log_group_arn]
}

run "rejects_bad_session_key" {
  command = plan
  variables {
    session_kms_key_arn = "alias/ssm"
  }
  expect_failures = [var.session_kms_key_arn]
}
