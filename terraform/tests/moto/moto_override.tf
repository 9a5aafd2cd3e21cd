# Terraform override file for the emulator test (scripts/test-terraform.sh).
# The script copies an environment root (envs/dev) next to this file into
# .tmp/, so that Terraform merges it into that root: the AWS provider then
# talks to a local moto server instead of AWS. Nothing here is used in a real
# deployment.

# The environments keep their state in S3 (backend "s3", partial configuration);
# here it stays local, next to the copy under .tmp/, in the emulator's run only.
terraform {
  backend "local" {}
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false
  # moto answers unimplemented calls with HTTP 500, which the provider would
  # retry for many minutes with its default of 25. But one attempt is too few:
  # moto's server closes idle keep-alive connections, and a call that races
  # the close fails with "use of closed network connection" (a destroy of
  # envs/dev failed so in CI). Three attempts retry that within seconds.
  max_retries = 3

  endpoints {
    autoscaling    = var.moto_endpoint
    budgets        = var.moto_endpoint
    cloudwatch     = var.moto_endpoint
    ec2            = var.moto_endpoint
    elbv2          = var.moto_endpoint
    iam            = var.moto_endpoint
    kms            = var.moto_endpoint
    logs           = var.moto_endpoint
    rds            = var.moto_endpoint
    secretsmanager = var.moto_endpoint
    sns            = var.moto_endpoint
    ssm            = var.moto_endpoint
    wafv2          = var.moto_endpoint
    sts            = var.moto_endpoint
  }
}
