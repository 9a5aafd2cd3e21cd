terraform {
  # 1.10 for the S3 backend's use_lockfile.
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }

  # State in the bucket of terraform/bootstrap, locked by the backend's own
  # lock file (use_lockfile, Terraform >= 1.10; no DynamoDB table), encrypted
  # by the bucket's default SSE-KMS key (its policy refuses any other). Partial
  # configuration: the bucket is given at init, as the workflows do:
  #   terraform init -backend-config="bucket=<state bucket>"
  # The offline tests (scripts/test-terraform.sh) init with -backend=false.
  backend "s3" {
    key          = "itemsd/dev/terraform.tfstate"
    region       = "eu-north-1"
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Application = "itemsd"
      Environment = local.environment
      ManagedBy   = "terraform"
    }
  }
}
