terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }

  # State stays local by default. For a shared environment, keep it in S3:
  # backend "s3" {
  #   bucket       = "<your-state-bucket>"
  #   key          = "itemsd/prod/terraform.tfstate"
  #   region       = "eu-north-1"
  #   encrypt      = true
  #   use_lockfile = true
  # }
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
