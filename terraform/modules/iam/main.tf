# The itemsd instance role: exactly what the binary and an engineer's SSM
# session need, nothing for a CloudWatch agent, Docker or ECR.
#
#   SSM Session Manager    AmazonSSMManagedInstanceCore (AWS managed)
#   secrets                GetSecretValue on the two secret ARNs
#   KMS                    Decrypt on their key, only via Secrets Manager
#   database login         rds-db:connect as the one app role (db_iam_user)
#                          on the one instance (db_resource_id); left out
#                          when db_iam_user is null (behind the RDS Proxy)
#   logs                   CreateLogStream/PutLogEvents in its own log group
#                          (no CreateLogGroup: Terraform owns the group)
#   metrics                PutMetricData, only into its namespace (by condition:
#                          the action has no resource-level permissions)
#   SSM agent              session transcripts and Run Command output into the
#                          ssm module's log group only; kms:Decrypt on the
#                          session key (Session Manager's data channel)
#
# The actions live in instance-actions.json, one list per statement Sid, so
# that a test of the binary can read the exact grant without restating it.
# Nothing else may add an action: the statements below take theirs from it.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition

  # { Sid = [actions] }: the only place the inline policy's actions are named.
  actions = jsondecode(file("${path.module}/instance-actions.json"))

  # arn:<partition>:logs:<region>:<account>, from the SSM log group's ARN.
  logs_arn_prefix = join(":", slice(split(":", var.ssm_log_group_arn), 0, 5))

  # The one database user the instances may log in as with an IAM token. The
  # ARN names the instance by its DbiResourceId, not its identifier, and the
  # user by its PostgreSQL name; no wildcard in either.
  db_connect = var.db_iam_user != null
  db_user_arns = local.db_connect ? [
    "arn:${local.partition}:rds-db:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:dbuser:${var.db_resource_id}/${var.db_iam_user}",
  ] : []

  # Every statement the module knows, whether or not this role gets it; the
  # precondition below compares these Sids with instance-actions.json.
  all_statements = [
    {
      # Both secrets: the connection secret (host, port, dbname) and the
      # RDS-managed master secret. The serving itemsd no longer reads the
      # master password when it logs in with IAM tokens, but itemsd migrate,
      # which runs on the same instance with the same role at every boot, logs
      # in as the owner with it. A separate principal for migrations would take
      # the master secret away from the instances (docs/terraform.md).
      Sid      = "ReadDatabaseSecrets"
      Effect   = "Allow"
      Action   = local.actions["ReadDatabaseSecrets"]
      Resource = var.secret_arns
    },
    {
      Sid      = "DecryptDatabaseSecrets"
      Effect   = "Allow"
      Action   = local.actions["DecryptDatabaseSecrets"]
      Resource = var.secrets_kms_key_arns
      Condition = {
        StringEquals = { "kms:ViaService" = "secretsmanager.${data.aws_region.current.name}.amazonaws.com" }
      }
    },
    {
      Sid      = "WriteOwnLogStreams"
      Effect   = "Allow"
      Action   = local.actions["WriteOwnLogStreams"]
      Resource = ["${var.log_group_arn}:log-stream:*"]
    },
    {
      # cloudwatch:PutMetricData supports no resource ARNs; the namespace
      # condition is what limits it.
      Sid       = "PutMetricsInOwnNamespace"
      Effect    = "Allow"
      Action    = local.actions["PutMetricsInOwnNamespace"]
      Resource  = ["*"]
      Condition = { StringEquals = { "cloudwatch:namespace" = var.metrics_namespace } }
    },
    # The SSM agent's, not itemsd's: session transcripts and Run Command
    # output go to the ssm module's group, and nowhere else. DescribeLogStreams
    # finds its streams; DescribeLogGroups shows it that the group exists and
    # is KMS-encrypted, without which the preferences refuse the session. It
    # is a List action, evaluated on every log group of the account and
    # region, and reads names and settings, no log data.
    {
      Sid      = "WriteSsmLogs"
      Effect   = "Allow"
      Action   = local.actions["WriteSsmLogs"]
      Resource = ["${var.ssm_log_group_arn}:*"]
    },
    {
      Sid      = "FindSsmLogGroup"
      Effect   = "Allow"
      Action   = local.actions["FindSsmLogGroup"]
      Resource = ["${local.logs_arn_prefix}:log-group:*"]
    },
    {
      # Session Manager's data channel is encrypted with the session key; the
      # agent calls KMS itself (no kms:ViaService to require).
      Sid      = "DecryptSessionData"
      Effect   = "Allow"
      Action   = local.actions["DecryptSessionData"]
      Resource = [var.session_kms_key_arn]
    },
    {
      # itemsd signs an IAM auth token (a presigned rds-db:connect request)
      # with the role's credentials and logs in as db_iam_user with it; RDS
      # checks this permission at login.
      Sid      = "ConnectAsAppDatabaseUser"
      Effect   = "Allow"
      Action   = local.actions["ConnectAsAppDatabaseUser"]
      Resource = local.db_user_arns
    },
  ]

  # Without an app role (the RDS Proxy logs in with the master secret) the
  # rds-db:connect statement would grant nothing that is used: left out.
  statements = [for s in local.all_statements : s if s.Sid != "ConnectAsAppDatabaseUser" || local.db_connect]

  policy_document = {
    Version   = "2012-10-17"
    Statement = local.statements
  }
}

resource "aws_iam_role" "this" {
  name_prefix          = "${substr(var.name, 0, 24)}-inst-"
  description          = "itemsd instances (${var.name})"
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "ssm_core" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "this" {
  name   = "itemsd"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.policy_document)

  lifecycle {
    precondition {
      # Every Sid of instance-actions.json has its statement, and no statement
      # is missing from it (the rds-db:connect one counts even when left out).
      condition     = toset(keys(local.actions)) == toset([for s in local.all_statements : s.Sid])
      error_message = "instance-actions.json and the statements of modules/iam/main.tf must name the same Sids."
    }
  }
}

resource "aws_iam_instance_profile" "this" {
  name_prefix = "${substr(var.name, 0, 24)}-inst-"
  role        = aws_iam_role.this.name

  tags = var.tags
}
