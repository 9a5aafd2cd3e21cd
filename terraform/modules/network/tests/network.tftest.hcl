# Plan-only tests of the network module against a mocked AWS provider.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      name = "eu-north-1"
    }
  }
}

variables {
  name                  = "itemsd-test"
  azs                   = ["eu-north-1a", "eu-north-1b", "eu-north-1c"]
  flow_logs_kms_key_arn = "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "cidr_plan_matches_the_original" {
  command = plan

  assert {
    condition     = output.public_subnet_cidrs == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    error_message = "public subnets must be 10.0.0-2.0/24"
  }
  assert {
    condition     = output.private_subnet_cidrs == ["10.0.10.0/24", "10.0.11.0/24", "10.0.12.0/24"]
    error_message = "private subnets must be 10.0.10-12.0/24"
  }
  assert {
    condition     = output.database_subnet_cidrs == ["10.0.20.0/24", "10.0.21.0/24", "10.0.22.0/24"]
    error_message = "database subnets must be 10.0.20-22.0/24"
  }
  assert {
    condition     = alltrue([for s in aws_subnet.public : s.map_public_ip_on_launch == false])
    error_message = "public subnets must not hand out public IPs to instances"
  }
}

run "nat_per_az_by_default" {
  command = plan

  assert {
    condition     = length(aws_nat_gateway.this) == 3 && length(aws_route.private_nat) == 3 && length(aws_route_table.private) == 3
    error_message = "one NAT gateway, route and private route table per AZ"
  }
  assert {
    condition     = length(aws_route_table_association.database) == 3
    error_message = "every database subnet is associated with the isolated route table"
  }
  assert {
    condition     = aws_vpc_endpoint.s3.vpc_endpoint_type == "Gateway"
    error_message = "the S3 gateway endpoint is always there"
  }
  assert {
    condition     = length(aws_flow_log.this) == 1 && aws_flow_log.this[0].traffic_type == "ALL"
    error_message = "flow logs record all traffic"
  }
  assert {
    condition     = aws_cloudwatch_log_group.flow_logs[0].kms_key_id == var.flow_logs_kms_key_arn
    error_message = "the flow log group is encrypted with the given key"
  }
}

run "single_nat" {
  command = plan

  variables {
    single_nat_gateway = true
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(aws_route_table.private) == 1
    error_message = "single_nat_gateway makes one NAT gateway and one private route table"
  }
}

run "no_nat_with_interface_endpoints" {
  command = plan

  variables {
    enable_nat_gateway          = false
    interface_endpoints         = ["logs", "monitoring", "secretsmanager", "ssm", "ssmmessages", "ec2messages"]
    endpoint_security_group_ids = ["sg-0123456789abcdef0"]
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 0 && length(aws_route.private_nat) == 0
    error_message = "no NAT gateway and no default route in the private subnets"
  }
  assert {
    condition     = length(aws_vpc_endpoint.interface) == 6 && alltrue([for e in aws_vpc_endpoint.interface : e.private_dns_enabled && e.vpc_endpoint_type == "Interface"])
    error_message = "six interface endpoints with private DNS"
  }
  assert {
    condition     = aws_vpc_endpoint.interface["secretsmanager"].service_name == "com.amazonaws.eu-north-1.secretsmanager"
    error_message = "endpoint service names are built from the region"
  }
}

# --- one run per validation block -------------------------------------------

run "rejects_bad_name" {
  command = plan
  variables {
    name = "Itemsd_Test"
  }
  expect_failures = [var.name]
}

run "rejects_bad_vpc_cidr" {
  command = plan
  variables {
    vpc_cidr = "10.0.0.0/24"
  }
  expect_failures = [var.vpc_cidr]
}

run "rejects_one_az" {
  command = plan
  variables {
    azs = ["eu-north-1a"]
  }
  expect_failures = [var.azs]
}

run "rejects_unknown_endpoint" {
  command = plan
  variables {
    interface_endpoints         = ["ecr.api"]
    endpoint_security_group_ids = ["sg-0123456789abcdef0"]
  }
  expect_failures = [var.interface_endpoints]
}

run "rejects_endpoints_without_security_group" {
  command = plan
  variables {
    interface_endpoints = ["logs"]
  }
  expect_failures = [var.endpoint_security_group_ids]
}

run "rejects_bad_retention" {
  command = plan
  variables {
    flow_logs_retention_days = 10
  }
  expect_failures = [var.flow_logs_retention_days]
}

run "rejects_bad_traffic_type" {
  command = plan
  variables {
    flow_logs_traffic_type = "SOME"
  }
  expect_failures = [var.flow_logs_traffic_type]
}

run "rejects_flow_logs_without_key" {
  command = plan
  variables {
    flow_logs_kms_key_arn = null
  }
  expect_failures = [var.flow_logs_kms_key_arn]
}
