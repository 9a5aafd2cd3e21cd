# Plan-only tests of the bootstrap root against a mocked AWS provider: the state
# bucket is private, encrypted with its own key, versioned and TLS-only, and the
# GitHub roles are wired to it.

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
  mock_resource "aws_kms_key" {
    override_during = plan
    defaults = {
      arn    = "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      key_id = "11111111-2222-3333-4444-555555555555"
    }
  }
  mock_resource "aws_s3_bucket" {
    override_during = plan
    defaults = {
      arn = "arn:aws:s3:::123456789012-itemsd-tfstate"
      id  = "123456789012-itemsd-tfstate"
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
  state_bucket_name = "123456789012-itemsd-tfstate"
}

run "state_bucket_is_locked_down" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation == true
    error_message = "the state key rotates"
  }
  assert {
    condition = (
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" &&
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    )
    error_message = "state is encrypted with the bucket's own KMS key"
  }
  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "state is versioned"
  }
  assert {
    condition = (
      aws_s3_bucket_public_access_block.this.block_public_acls && aws_s3_bucket_public_access_block.this.block_public_policy &&
      aws_s3_bucket_public_access_block.this.ignore_public_acls && aws_s3_bucket_public_access_block.this.restrict_public_buckets
    )
    error_message = "every public access block is on"
  }
  assert {
    condition = anytrue([
      for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement : try(
        s.Effect == "Deny" && s.Principal == "*" && s.Action == "s3:*" && s.Condition.Bool["aws:SecureTransport"] == "false" &&
        toset(s.Resource) == toset(["arn:aws:s3:::123456789012-itemsd-tfstate", "arn:aws:s3:::123456789012-itemsd-tfstate/*"]),
        false
      )
    ])
    error_message = "the bucket policy denies every request without TLS, on the bucket and its objects"
  }
  assert {
    condition = anytrue([
      for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
      try(s.Effect == "Deny" && s.Action == "s3:PutObject" && s.Condition.StringNotEqualsIfExists["s3:x-amz-server-side-encryption"] == "aws:kms", false)
    ])
    error_message = "no state object is written with another encryption than SSE-KMS"
  }
  assert {
    condition     = aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "no ACLs"
  }
}

run "roles_use_the_bucket" {
  command = plan

  assert {
    condition     = module.github_oidc.subjects["deploy-prod"] == ["repo:acme/itemsd:environment:prod"]
    error_message = "the roles are for the repository given"
  }
  assert {
    condition     = output.github_repository_variables.TF_STATE_BUCKET == "123456789012-itemsd-tfstate" && output.github_repository_variables.AWS_REGION == "eu-north-1"
    error_message = "the workflows are told the bucket and the region"
  }
  assert {
    condition     = toset(keys(output.github_environment_variables)) == toset(["dev", "prod", "terraform-dev", "terraform-prod"])
    error_message = "one role variable per GitHub environment"
  }
}

run "rejects_dotted_bucket_name" {
  command = plan

  variables {
    state_bucket_name = "itemsd.tfstate"
  }

  expect_failures = [var.state_bucket_name]
}

run "rejects_bad_region" {
  command = plan

  variables {
    region = "Europe"
  }

  expect_failures = [var.region]
}

run "rejects_short_history" {
  command = plan

  variables {
    noncurrent_version_days = 1
  }

  expect_failures = [var.noncurrent_version_days]
}
