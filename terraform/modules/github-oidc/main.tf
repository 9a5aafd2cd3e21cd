# GitHub Actions -> AWS without stored keys: the account's OIDC provider for
# token.actions.githubusercontent.com and one role per job kind, each trusted
# only by this repository's tokens (aud sts.amazonaws.com) with the sub claim
# of that job kind, and each allowed what its workflow does:
#
#   role                     sub claim (repo:OWNER/NAME:...)   workflow
#   <name>-deploy-<env>      environment:<env>                 deploy.yml (scripts/deploy.sh)
#   <name>-tf-plan           pull_request                      terraform.yml, plan on PRs
#   <name>-tf-apply-<env>    environment:terraform-<env>       terraform.yml, apply (main / approval)
#   <name>-release           ref:refs/tags/<release_tag_pattern> release.yml (Packer)
#
# The deploy roles' actions are in deploy-actions.json, one list per statement
# Sid: scripts/test-deploy.sh checks that deploy.sh calls nothing else.
# GitHub environments (dev, prod, terraform-dev, terraform-prod) carry the
# required reviewers; a workflow can only get a token with environment:prod as
# its sub by running a job in that environment, after its approval.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  issuer    = "token.actions.githubusercontent.com"

  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.this[0].arn : var.oidc_provider_arn

  deploy_actions = jsondecode(file("${path.module}/deploy-actions.json"))

  state_objects = "${var.state_bucket_arn}/${var.state_key_prefix}"

  # --- deploy: scripts/deploy.sh, nothing more -------------------------------
  deploy_statements = {
    for env in var.environments : env => [
      {
        Sid      = "ReadDeploySettings"
        Effect   = "Allow"
        Action   = local.deploy_actions["ReadDeploySettings"]
        Resource = ["arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/${var.name}-${env}/instance-refresh"]
      },
      {
        # Describe calls support no resource-level permissions.
        Sid       = "DescribeForDeploy"
        Effect    = "Allow"
        Action    = local.deploy_actions["DescribeForDeploy"]
        Resource  = ["*"]
        Condition = { StringEquals = { "aws:RequestedRegion" = local.region } }
      },
      {
        Sid      = "VersionLaunchTemplate"
        Effect   = "Allow"
        Action   = local.deploy_actions["VersionLaunchTemplate"]
        Resource = ["arn:${local.partition}:ec2:${local.region}:${local.account}:launch-template/*"]
        Condition = { StringEquals = {
          "aws:ResourceTag/Application" = "itemsd"
          "aws:ResourceTag/Environment" = env
        } }
      },
      {
        Sid      = "RefreshGroup"
        Effect   = "Allow"
        Action   = local.deploy_actions["RefreshGroup"]
        Resource = ["arn:${local.partition}:autoscaling:${local.region}:${local.account}:autoScalingGroup:*:autoScalingGroupName/${var.name}-${env}"]
      },
      {
        # Checked by Auto Scaling on the caller's behalf when a refresh names
        # a launch template (StartInstanceRefresh with a desired configuration):
        # the caller must be allowed to launch from it.
        Sid      = "LaunchFromTemplate"
        Effect   = "Allow"
        Action   = local.deploy_actions["LaunchFromTemplate"]
        Resource = ["*"]
        Condition = {
          StringEquals = { "aws:RequestedRegion" = local.region }
          ArnLike      = { "ec2:LaunchTemplate" = "arn:${local.partition}:ec2:${local.region}:${local.account}:launch-template/*" }
        }
      },
      {
        # The launch template's tag specifications: tags at launch only.
        Sid      = "TagAtLaunch"
        Effect   = "Allow"
        Action   = local.deploy_actions["TagAtLaunch"]
        Resource = ["*"]
        Condition = { StringEquals = {
          "aws:RequestedRegion" = local.region
          "ec2:CreateAction"    = "RunInstances"
        } }
      },
      {
        # The launch template's instance profile (modules/iam: <name>-<env>-inst-*).
        Sid       = "PassInstanceRole"
        Effect    = "Allow"
        Action    = local.deploy_actions["PassInstanceRole"]
        Resource  = ["arn:${local.partition}:iam::${local.account}:role/${var.name}-${env}-inst-*"]
        Condition = { StringEquals = { "iam:PassedToService" = "ec2.amazonaws.com" } }
      },
    ]
  }

  # --- Terraform state: each root its own key, and its lock file -------------
  state_statements = {
    for scope in concat(["plan"], var.environments) : scope => [
      {
        Sid       = "ListState"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = [var.state_bucket_arn]
        Condition = { StringLike = { "s3:prefix" = scope == "plan" ? ["${var.state_key_prefix}/*"] : ["${var.state_key_prefix}/${scope}/*"] } }
      },
      {
        # Plans read every environment's state; each apply role writes only its own.
        Sid      = scope == "plan" ? "ReadStateAndLock" : "ReadWriteState"
        Effect   = "Allow"
        Action   = scope == "plan" ? ["s3:GetObject"] : ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
        Resource = scope == "plan" ? ["${local.state_objects}/*"] : ["${local.state_objects}/${scope}/*"]
      },
      {
        # use_lockfile: a plan takes the lock too (<key>.tflock).
        Sid      = "Lock"
        Effect   = "Allow"
        Action   = ["s3:DeleteObject", "s3:PutObject"]
        Resource = scope == "plan" ? ["${local.state_objects}/*.tflock"] : ["${local.state_objects}/${scope}/*.tflock"]
      },
      {
        Sid      = "StateKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
        Resource = [var.state_kms_key_arn]
      },
    ]
  }

  # --- Terraform apply: the stack's services, in this region; IAM only on the
  # environment's own roles and instance profiles (<name>-<env>-*). -----------
  stack_services = ["autoscaling", "cloudwatch", "ec2", "elasticloadbalancing", "kms", "logs", "rds", "secretsmanager", "sns", "ssm"]
  apply_statements = {
    for env in var.environments : env => [
      {
        Sid       = "ManageStack"
        Effect    = "Allow"
        Action    = [for s in local.stack_services : "${s}:*"]
        Resource  = ["*"]
        Condition = { StringEquals = { "aws:RequestedRegion" = local.region } }
      },
      {
        # Budgets is a global service (no region to hold it to): its own budget only.
        Sid      = "ManageOwnBudget"
        Effect   = "Allow"
        Action   = ["budgets:*"]
        Resource = ["arn:${local.partition}:budgets::${local.account}:budget/${var.name}-${env}-*"]
      },
      {
        Sid    = "ManageOwnRoles"
        Effect = "Allow"
        Action = ["iam:*"]
        Resource = [
          "arn:${local.partition}:iam::${local.account}:role/${var.name}-${env}-*",
          "arn:${local.partition}:iam::${local.account}:instance-profile/${var.name}-${env}-*",
        ]
      },
      {
        Sid      = "ReadIam"
        Effect   = "Allow"
        Action   = ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListInstanceProfilesForRole", "iam:ListRoles"]
        Resource = ["*"]
      },
      {
        Sid      = "ServiceLinkedRoles"
        Effect   = "Allow"
        Action   = ["iam:CreateServiceLinkedRole"]
        Resource = ["*"]
        Condition = { StringEquals = { "iam:AWSServiceName" = [
          "autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com", "rds.amazonaws.com",
        ] } }
      },
    ]
  }

  # --- plan: the secret version a plan reads back is the connection secret's,
  # which holds no password (modules/database). -------------------------------
  connection_secrets = "arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${var.name}-*/db-connection-*"
  plan_statements = [
    {
      Sid      = "ReadConnectionSecrets"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [local.connection_secrets]
    },
    {
      Sid      = "DecryptConnectionSecrets"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = ["*"]
      Condition = {
        StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" }
        StringLike   = { "kms:EncryptionContext:SecretARN" = local.connection_secrets }
      }
    },
  ]

  # --- release: Packer's amazon-ebs builder (its documented minimal policy) --
  release_statements = [
    {
      Sid    = "BakeAmi"
      Effect = "Allow"
      Action = [
        "ec2:AttachVolume", "ec2:AuthorizeSecurityGroupIngress", "ec2:CopyImage", "ec2:CreateImage",
        "ec2:CreateKeyPair", "ec2:CreateSecurityGroup", "ec2:CreateSnapshot", "ec2:CreateTags",
        "ec2:CreateVolume", "ec2:DeleteKeyPair", "ec2:DeleteSecurityGroup", "ec2:DeleteSnapshot",
        "ec2:DeleteVolume", "ec2:DeregisterImage", "ec2:DescribeImageAttribute", "ec2:DescribeImages",
        "ec2:DescribeInstanceStatus", "ec2:DescribeInstances", "ec2:DescribeRegions",
        "ec2:DescribeSecurityGroups", "ec2:DescribeSnapshots", "ec2:DescribeSubnets", "ec2:DescribeTags",
        "ec2:DescribeVolumes", "ec2:DescribeVpcs", "ec2:DetachVolume", "ec2:GetPasswordData",
        "ec2:ModifyImageAttribute", "ec2:ModifyInstanceAttribute", "ec2:ModifySnapshotAttribute",
        "ec2:RegisterImage", "ec2:RunInstances", "ec2:StopInstances", "ec2:TerminateInstances",
      ]
      Resource  = ["*"]
      Condition = { StringEquals = { "aws:RequestedRegion" = local.region } }
    },
    {
      # encrypt_boot with the account's EBS key, through EC2 only.
      Sid       = "EncryptSnapshots"
      Effect    = "Allow"
      Action    = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"]
      Resource  = ["*"]
      Condition = { StringEquals = { "kms:ViaService" = "ec2.${local.region}.amazonaws.com" } }
    },
  ]

  subject_prefix = "repo:${var.github_repository}"

  # role key => what it is, who may assume it, what it may do
  roles = merge(
    { for env in var.environments : "deploy-${env}" => {
      description = "scripts/deploy.sh for ${var.name}-${env} (deploy.yml, GitHub environment ${env})"
      subjects    = ["${local.subject_prefix}:environment:${env}"]
      statements  = local.deploy_statements[env]
      read_only   = false
    } },
    { for env in var.environments : "tf-apply-${env}" => {
      description = "terraform apply of envs/${env} (terraform.yml, GitHub environment terraform-${env})"
      subjects    = ["${local.subject_prefix}:environment:terraform-${env}"]
      statements  = concat(local.apply_statements[env], local.state_statements[env])
      read_only   = false
    } },
    {
      "tf-plan" = {
        description = "terraform plan on pull requests (terraform.yml): read-only, plus the state lock"
        subjects    = ["${local.subject_prefix}:pull_request"]
        statements  = concat(local.state_statements["plan"], local.plan_statements)
        read_only   = true
      }
      "release" = {
        description = "Packer AMI builds of release tags (release.yml)"
        subjects    = ["${local.subject_prefix}:ref:refs/tags/${var.release_tag_pattern}"]
        statements  = local.release_statements
        read_only   = false
      }
    },
  )
}

resource "aws_iam_openid_connect_provider" "this" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]
  # IAM verifies GitHub's certificate against its own trust store; the
  # thumbprints are still required by the API and are GitHub's published ones.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.oidc_provider_arn == null
      error_message = "Set either create_oidc_provider = true or oidc_provider_arn, not both."
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name                 = "${var.name}-${each.key}"
  description          = each.value.description
  max_session_duration = var.max_session_seconds
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "GitHubActions"
      Effect    = "Allow"
      Principal = { Federated = local.provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      # aud always exactly; sub exactly too, but for the release tag pattern
      # (StringLike). (Through JSON: the two shapes differ in type.)
      Condition = jsondecode(anytrue([for s in each.value.subjects : strcontains(s, "*")]) ? jsonencode({
        StringEquals = { "${local.issuer}:aud" = "sts.amazonaws.com" }
        StringLike   = { "${local.issuer}:sub" = each.value.subjects }
        }) : jsonencode({
        StringEquals = {
          "${local.issuer}:aud" = "sts.amazonaws.com"
          "${local.issuer}:sub" = each.value.subjects
        }
      }))
    }]
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.provider_arn != null
      error_message = "No OIDC provider: set create_oidc_provider = true or give oidc_provider_arn."
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = local.roles

  name = "github-actions"
  role = aws_iam_role.this[each.key].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = each.value.statements
  })

  lifecycle {
    precondition {
      # The deploy roles take every action from deploy-actions.json, and only from it.
      condition = !startswith(each.key, "deploy-") || (
        toset(flatten([for s in each.value.statements : s.Action])) == toset(flatten(values(local.deploy_actions)))
      )
      error_message = "A deploy role's actions must be exactly those of deploy-actions.json."
    }
  }
}

# Plans refresh every resource of the stack: AWS's read-only policy (which
# reads no secret value; the connection secret is granted above).
resource "aws_iam_role_policy_attachment" "this" {
  for_each = { for k, r in local.roles : k => r if r.read_only }

  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}
