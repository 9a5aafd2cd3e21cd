terraform {
  # 1.10 for the S3 backend's own lock file (use_lockfile), which the
  # environments use instead of a DynamoDB table.
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }

  # This root's own state stays local (terraform.tfstate here, gitignored):
  # the bucket it makes cannot hold the state that makes it. It holds no
  # secret; keep it, or move it into the bucket afterwards (docs/delivery.md).
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Application = "itemsd"
      Environment = "bootstrap"
      ManagedBy   = "terraform"
    }
  }
}
