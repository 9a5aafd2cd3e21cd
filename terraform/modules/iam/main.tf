# The itemsd instance role: exactly what the binary and an engineer's SSM
# session need, nothing for a CloudWatch agent, Docker or ECR.
#
#   SSM Session Manager    AmazonSSMManagedInstanceCore (AWS managed)
#   secrets                GetSecretValue on the two secret ARNs
#   KMS                    Decrypt on their key, only via Secrets Manager
#   logs                   CreateLogStream/PutLogEvents in its own log group
#   metrics                PutMetricData, only into its namespace (by condition:
#                          the action has no resource-level permissions)
#   lifecycle hook         CompleteLifecycleAction on its own ASG (optional)

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition

  asg_arn = "arn:${local.partition}:autoscaling:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/${coalesce(var.autoscaling_group_name, "none")}"

  statements = concat(
    [
      {
        Sid      = "ReadDatabaseSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = var.secret_arns
      },
      {
        Sid      = "DecryptDatabaseSecrets"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = var.secrets_kms_key_arns
        Condition = {
          StringEquals = { "kms:ViaService" = "secretsmanager.${data.aws_region.current.name}.amazonaws.com" }
        }
      },
      {
        Sid      = "DescribeOwnLogGroup"
        Effect   = "Allow"
        Action   = ["logs:DescribeLogStreams"]
        Resource = [var.log_group_arn, "${var.log_group_arn}:*"]
      },
      {
        Sid      = "WriteOwnLogStreams"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${var.log_group_arn}:log-stream:*"]
      },
      {
        # cloudwatch:PutMetricData supports no resource ARNs; the namespace
        # condition is what limits it.
        Sid       = "PutMetricsInOwnNamespace"
        Effect    = "Allow"
        Action    = ["cloudwatch:PutMetricData"]
        Resource  = ["*"]
        Condition = { StringEquals = { "cloudwatch:namespace" = var.metrics_namespace } }
      },
    ],
    var.lifecycle_hook_enabled ? [
      {
        Sid      = "CompleteOwnLifecycleHook"
        Effect   = "Allow"
        Action   = ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"]
        Resource = [local.asg_arn]
      },
    ] : [],
  )

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
}

resource "aws_iam_instance_profile" "this" {
  name_prefix = "${substr(var.name, 0, 24)}-inst-"
  role        = aws_iam_role.this.name

  tags = var.tags
}
