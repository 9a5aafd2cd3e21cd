# The itemsd instance role: exactly what the binary and an engineer's SSM
# session need, nothing for a CloudWatch agent, Docker or ECR.
#
#   SSM Session Manager    AmazonSSMManagedInstanceCore (AWS managed)
#   secrets                GetSecretValue on the two secret ARNs
#   KMS                    Decrypt on their key, only via Secrets Manager
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

data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition

  # { Sid = [actions] }: the only place the inline policy's actions are named.
  actions = jsondecode(file("${path.module}/instance-actions.json"))

  # arn:<partition>:logs:<region>:<account>, from the SSM log group's ARN.
  logs_arn_prefix = join(":", slice(split(":", var.ssm_log_group_arn), 0, 5))

  statements = [
    {
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
      # cloudwatch:PutMetricData supports no resource ARNs; the namespace
      # condition is what limits it.
      Sid       = "PutMetricsInOwnNamespace"
      Effect    = "Allow"
      Action    = local.actions["PutMetricsInOwnNamespace"]
      Resource  = ["*"]
      Condition = { StringEquals = { "cloudwatch:namespace" = var.metrics_namespace } }
    },
  ]

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
      # Every Sid of instance-actions.json is used, and no statement is missing from it.
      condition     = toset(keys(local.actions)) == toset([for s in local.statements : s.Sid])
      error_message = "instance-actions.json and the statements of modules/iam/main.tf must name the same Sids."
    }
  }
}

resource "aws_iam_instance_profile" "this" {
  name_prefix = "${substr(var.name, 0, 24)}-inst-"
  role        = aws_iam_role.this.name

  tags = var.tags
}
