# The whole prod stack planned against a mocked AWS provider: the modules wire
# together, and the numbers that matter survive the wiring.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-north-1a", "eu-north-1b", "eu-north-1c"]
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "eu-north-1"
    }
  }
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
  mock_resource "aws_secretsmanager_secret" {
    override_during = plan
    defaults = {
      arn = "arn:aws:secretsmanager:eu-north-1:123456789012:secret:itemsd/db-connection-AbCdEf"
    }
  }
  mock_data "aws_ami" {
    defaults = {
      id = "ami-0123456789abcdef0"
    }
  }
}

variables {
  alarm_emails = ["oncall@example.com"]
  ami_version  = "0.1.0"
}

run "prod_plans" {
  command = plan

  assert {
    condition     = module.network.azs == tolist(["eu-north-1a", "eu-north-1b", "eu-north-1c"])
    error_message = "prod uses three AZs"
  }
  assert {
    condition     = length(module.network.nat_gateway_ids) == 3 && length(module.network.interface_endpoint_ids) == 6
    error_message = "prod has a NAT gateway per AZ and the interface endpoints"
  }
  assert {
    condition     = module.compute.ami_id == "ami-0123456789abcdef0"
    error_message = "the AMI is looked up by its Packer tags"
  }
  assert {
    condition = (
      module.compute.shutdown_timeline.deregistration_delay <= module.compute.shutdown_timeline.pre_stop_delay + module.compute.shutdown_timeline.drain_timeout + module.compute.shutdown_timeline.flush_bound &&
      module.compute.shutdown_timeline.pre_stop_delay >= module.compute.shutdown_timeline.alb_notices_failure_in &&
      module.compute.shutdown_timeline.systemd_timeout_stop > module.compute.shutdown_timeline.pre_stop_delay + module.compute.shutdown_timeline.drain_timeout + module.compute.shutdown_timeline.flush_bound
    )
    error_message = "the shutdown timeline holds in the environment"
  }
  assert {
    condition     = strcontains(module.compute.user_data, "DB_SECRET_ARN=arn:aws:secretsmanager:eu-north-1:123456789012:secret:itemsd/db-connection-AbCdEf\n") && strcontains(module.compute.user_data, "ENVIRONMENT=prod\n") && strcontains(module.compute.user_data, "CLOUDWATCH_LOG_GROUP=/itemsd/itemsd-prod\n")
    error_message = "the instances learn their environment and log group"
  }
  assert {
    condition     = module.database.performance_insights_enabled == true && module.compute.lifecycle_hook_name == "itemsd-prod-terminating"
    error_message = "prod: Performance Insights on, termination lifecycle hook present"
  }
}

run "emulator_mode" {
  command = plan

  variables {
    instance_refresh_enabled = false
    ami_id                   = "ami-0fedcba9876543210"
    availability_zones       = ["us-east-1a", "us-east-1b"]
  }

  assert {
    condition     = module.compute.ami_id == "ami-0fedcba9876543210" && module.network.azs == tolist(["us-east-1a", "us-east-1b"])
    error_message = "explicit AMI and AZs are used"
  }
}

run "rejects_bad_az_count" {
  command = plan
  variables {
    az_count = 4
  }
  expect_failures = [var.az_count]
}

run "rejects_unpinned_ami" {
  command = plan
  variables {
    ami_version = null
  }
  expect_failures = [var.ami_version]
}
