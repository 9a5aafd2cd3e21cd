# Plan-only tests of the GitHub OIDC roles against a mocked AWS provider: who
# may assume each role (aud and sub), and what each may do.

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
  mock_resource "aws_iam_openid_connect_provider" {
    override_during = plan
    defaults = {
      arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    }
  }
}

variables {
  github_repository = "acme/itemsd"
  state_bucket_arn  = "arn:aws:s3:::acme-itemsd-tfstate"
  state_kms_key_arn = "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "trust_is_this_repository_only" {
  command = plan

  assert {
    condition     = aws_iam_openid_connect_provider.this[0].url == "https://token.actions.githubusercontent.com" && tolist(aws_iam_openid_connect_provider.this[0].client_id_list) == tolist(["sts.amazonaws.com"])
    error_message = "the provider is GitHub's, for the audience sts.amazonaws.com"
  }
  assert {
    condition     = toset(keys(aws_iam_role.this)) == toset(["deploy-dev", "deploy-prod", "tf-apply-dev", "tf-apply-prod", "tf-plan", "release"])
    error_message = "one role per job kind and environment"
  }
  assert {
    condition = alltrue([
      for k, r in aws_iam_role.this : (
        length(jsondecode(r.assume_role_policy).Statement) == 1 &&
        jsondecode(r.assume_role_policy).Statement[0].Action == "sts:AssumeRoleWithWebIdentity" &&
        jsondecode(r.assume_role_policy).Statement[0].Principal.Federated == "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" &&
        jsondecode(r.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
      )
    ])
    error_message = "every role: web identity from the GitHub provider only, aud sts.amazonaws.com"
  }
  assert {
    condition     = jsondecode(aws_iam_role.this["deploy-dev"].assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == ["repo:acme/itemsd:environment:dev"]
    error_message = "deploy-dev: only jobs of acme/itemsd in the GitHub environment dev"
  }
  assert {
    condition     = jsondecode(aws_iam_role.this["deploy-prod"].assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == ["repo:acme/itemsd:environment:prod"]
    error_message = "deploy-prod: only jobs in the GitHub environment prod (its reviewers approve them)"
  }
  assert {
    condition     = jsondecode(aws_iam_role.this["tf-apply-prod"].assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == ["repo:acme/itemsd:environment:terraform-prod"]
    error_message = "tf-apply-prod: only jobs in the GitHub environment terraform-prod"
  }
  assert {
    condition     = jsondecode(aws_iam_role.this["tf-plan"].assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == ["repo:acme/itemsd:pull_request"]
    error_message = "tf-plan: pull requests of acme/itemsd"
  }
  assert {
    condition = (
      jsondecode(aws_iam_role.this["release"].assume_role_policy).Statement[0].Condition.StringLike["token.actions.githubusercontent.com:sub"] == ["repo:acme/itemsd:ref:refs/tags/v*"] &&
      !can(jsondecode(aws_iam_role.this["release"].assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"])
    )
    error_message = "release: tags v* of acme/itemsd, the only StringLike sub"
  }
  assert {
    condition = alltrue([
      for k, r in aws_iam_role.this : alltrue([
        for op, kv in jsondecode(r.assume_role_policy).Statement[0].Condition : alltrue([
          for claim, values in kv : claim != "token.actions.githubusercontent.com:sub" || alltrue([
            for v in flatten([values]) : startswith(v, "repo:acme/itemsd:") && !strcontains(trimprefix(v, "repo:acme/itemsd:"), "*") || v == "repo:acme/itemsd:ref:refs/tags/v*"
          ])
        ])
      ])
    ])
    error_message = "no sub outside repo:acme/itemsd:, and no wildcard but the release tag pattern"
  }
}

run "deploy_role_does_only_what_deploy_sh_does" {
  command = plan

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this["deploy-dev"].policy).Statement : s.Action])) == toset([
      "ssm:GetParameter",
      "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeInstanceRefreshes",
      "ec2:DescribeImages", "ec2:DescribeLaunchTemplateVersions",
      "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
      "ec2:CreateLaunchTemplateVersion",
      "autoscaling:StartInstanceRefresh", "autoscaling:RollbackInstanceRefresh",
      "ec2:RunInstances", "ec2:CreateTags", "iam:PassRole",
    ])
    error_message = "the deploy role may make exactly deploy.sh's calls and what Auto Scaling checks for them"
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this["deploy-dev"].policy).Statement :
      s.Effect == "Allow" && alltrue([for a in s.Action : !strcontains(a, "*")])
    ])
    error_message = "no wildcard action in a deploy role"
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this["deploy-dev"].policy).Statement :
      !contains(s.Resource, "*") || can(s.Condition.StringEquals["aws:RequestedRegion"])
    ])
    error_message = "a deploy statement on Resource * is held to the region"
  }
  assert {
    condition = (
      one([for s in jsondecode(aws_iam_role_policy.this["deploy-dev"].policy).Statement : s if s.Sid == "RefreshGroup"]).Resource == ["arn:aws:autoscaling:eu-north-1:123456789012:autoScalingGroup:*:autoScalingGroupName/itemsd-dev"] &&
      one([for s in jsondecode(aws_iam_role_policy.this["deploy-dev"].policy).Statement : s if s.Sid == "ReadDeploySettings"]).Resource == ["arn:aws:ssm:eu-north-1:123456789012:parameter/itemsd-dev/instance-refresh"] &&
      one([for s in jsondecode(aws_iam_role_policy.this["deploy-dev"].policy).Statement : s if s.Sid == "VersionLaunchTemplate"]).Condition.StringEquals["aws:ResourceTag/Environment"] == "dev" &&
      one([for s in jsondecode(aws_iam_role_policy.this["deploy-dev"].policy).Statement : s if s.Sid == "PassInstanceRole"]).Resource == ["arn:aws:iam::123456789012:role/itemsd-dev-inst-*"]
    )
    error_message = "deploy-dev touches dev's group, parameter, launch template and instance role only"
  }
  assert {
    condition = (
      one([for s in jsondecode(aws_iam_role_policy.this["deploy-prod"].policy).Statement : s if s.Sid == "RefreshGroup"]).Resource == ["arn:aws:autoscaling:eu-north-1:123456789012:autoScalingGroup:*:autoScalingGroupName/itemsd-prod"] &&
      one([for s in jsondecode(aws_iam_role_policy.this["deploy-prod"].policy).Statement : s if s.Sid == "PassInstanceRole"]).Condition.StringEquals["iam:PassedToService"] == "ec2.amazonaws.com"
    )
    error_message = "deploy-prod touches prod's group only, and passes the instance role to EC2 only"
  }
  assert {
    condition = (
      one([for s in jsondecode(aws_iam_role_policy.this["deploy-dev"].policy).Statement : s if s.Sid == "LaunchFromTemplate"]).Condition.ArnLike["ec2:LaunchTemplate"] == "arn:aws:ec2:eu-north-1:123456789012:launch-template/*" &&
      one([for s in jsondecode(aws_iam_role_policy.this["deploy-dev"].policy).Statement : s if s.Sid == "TagAtLaunch"]).Condition.StringEquals["ec2:CreateAction"] == "RunInstances"
    )
    error_message = "the deploy role launches only from a launch template and tags only at launch"
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this["deploy-dev"].policy).Statement :
      !anytrue([for a in s.Action : startswith(a, "s3:") || startswith(a, "sts:") || a == "autoscaling:UpdateAutoScalingGroup"])
    ])
    error_message = "a deploy role reads no state and cannot change the group's settings"
  }
}

run "terraform_roles_are_scoped" {
  command = plan

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this["tf-plan"].policy).Statement :
      alltrue([for a in s.Action : contains(["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "secretsmanager:GetSecretValue"], a)])
    ]) && aws_iam_role_policy_attachment.this["tf-plan"].policy_arn == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    error_message = "the plan role reads (AWS ReadOnlyAccess), reads the state, and writes only lock files"
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.this["tf-plan"].policy).Statement : s if s.Sid == "Lock"]).Resource == ["arn:aws:s3:::acme-itemsd-tfstate/itemsd/*.tflock"]
    error_message = "the plan role writes lock files only"
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.this["tf-apply-dev"].policy).Statement : s if s.Sid == "ReadWriteState"]).Resource == ["arn:aws:s3:::acme-itemsd-tfstate/itemsd/dev/*"]
    error_message = "tf-apply-dev writes dev's state only"
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this["tf-apply-prod"].policy).Statement :
      !contains(s.Action, "iam:*") || alltrue([for r in s.Resource : strcontains(r, ":role/itemsd-prod-") || strcontains(r, ":instance-profile/itemsd-prod-")])
    ])
    error_message = "tf-apply-prod manages IAM roles and instance profiles named itemsd-prod-* only"
  }
  assert {
    condition = alltrue(flatten([
      for k in ["tf-apply-dev", "tf-apply-prod", "release", "deploy-dev"] : [
        for s in jsondecode(aws_iam_role_policy.this[k].policy).Statement : [
          for a in s.Action : a != "*" && !startswith(a, "sts:") && !startswith(a, "organizations:") && a != "iam:CreateUser" && a != "iam:CreateAccessKey"
        ]
      ]
    ]))
    error_message = "no role gets *, sts, organizations, or IAM users and keys"
  }
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.this["tf-apply-dev"].policy).Statement :
      !contains(s.Resource, "*") || can(s.Condition.StringEquals["aws:RequestedRegion"]) || alltrue([for a in s.Action : startswith(a, "iam:Get") || startswith(a, "iam:List") || a == "iam:CreateServiceLinkedRole"])
    ])
    error_message = "apply statements on Resource * are held to the region (IAM reads and service-linked roles aside)"
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.this["tf-apply-dev"].policy).Statement : s if s.Sid == "ManageOwnBudget"]).Resource == ["arn:aws:budgets::123456789012:budget/itemsd-dev-*"]
    error_message = "tf-apply-dev manages dev's budget only (budgets is global: no region condition would hold)"
  }
}

run "existing_provider" {
  command = plan

  variables {
    create_oidc_provider = false
    oidc_provider_arn    = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    environments         = ["dev"]
  }

  assert {
    condition     = length(aws_iam_openid_connect_provider.this) == 0 && toset(keys(aws_iam_role.this)) == toset(["deploy-dev", "tf-apply-dev", "tf-plan", "release"])
    error_message = "an existing provider is used, and only the listed environments get roles"
  }
}

run "rejects_bad_repository" {
  command = plan

  variables {
    github_repository = "acme"
  }

  expect_failures = [var.github_repository]
}

run "rejects_repository_with_wildcard" {
  command = plan

  variables {
    github_repository = "acme/*"
  }

  expect_failures = [var.github_repository]
}

run "rejects_bad_environment" {
  command = plan

  variables {
    environments = ["Prod"]
  }

  expect_failures = [var.environments]
}

run "rejects_star_tag_pattern" {
  command = plan

  variables {
    release_tag_pattern = "*"
  }

  expect_failures = [var.release_tag_pattern]
}

run "rejects_bad_state_bucket" {
  command = plan

  variables {
    state_bucket_arn = "acme-itemsd-tfstate"
  }

  expect_failures = [var.state_bucket_arn]
}

run "rejects_bad_state_key" {
  command = plan

  variables {
    state_kms_key_arn = "alias/aws/s3"
  }

  expect_failures = [var.state_kms_key_arn]
}

run "rejects_bad_state_prefix" {
  command = plan

  variables {
    state_key_prefix = "/itemsd/"
  }

  expect_failures = [var.state_key_prefix]
}

run "rejects_bad_provider_arn" {
  command = plan

  variables {
    create_oidc_provider = false
    oidc_provider_arn    = "arn:aws:iam::123456789012:oidc-provider/example.com"
  }

  expect_failures = [var.oidc_provider_arn]
}

run "rejects_bad_name" {
  command = plan

  variables {
    name = "Itemsd"
  }

  expect_failures = [var.name]
}

run "rejects_short_sessions" {
  command = plan

  variables {
    max_session_seconds = 900
  }

  expect_failures = [var.max_session_seconds]
}
