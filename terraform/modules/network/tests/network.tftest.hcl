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

# --- network ACLs: the security groups' chain, once more, per subnet ----------

run "public_acl_admits_clients_and_return_traffic_only" {
  command = plan

  assert {
    condition = (
      toset([for r in aws_network_acl.this["public"].ingress : "${r.action} ${r.protocol} ${r.from_port}-${r.to_port} ${r.cidr_block}"]) ==
      toset(["allow tcp 80-80 0.0.0.0/0", "allow tcp 443-443 0.0.0.0/0", "allow tcp 1024-65535 0.0.0.0/0"])
    )
    error_message = "public in: 80 and 443 from clients, 1024-65535 for the answers to the ALB and the NAT gateway, nothing else"
  }
  assert {
    condition = (
      toset([for r in aws_network_acl.this["public"].egress : "${r.action} ${r.from_port}-${r.to_port} ${r.cidr_block}"]) ==
      toset(["allow 5001-5001 10.0.10.0/24", "allow 5001-5001 10.0.11.0/24", "allow 5001-5001 10.0.12.0/24", "allow 443-443 0.0.0.0/0", "allow 1024-65535 0.0.0.0/0"])
    )
    error_message = "public out: the ALB to itemsd, the NAT gateway's HTTPS, and the return traffic"
  }
  assert {
    condition = alltrue(flatten([
      for acl in aws_network_acl.this : [for r in concat(tolist(acl.ingress), tolist(acl.egress)) : r.protocol == "tcp"]
    ]))
    error_message = "every rule of every tier is TCP: no all-protocol rule"
  }
}

run "app_port_only_from_the_public_subnets" {
  command = plan

  assert {
    condition = alltrue([
      for r in aws_network_acl.this["private"].ingress :
      contains(["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"], r.cidr_block) if r.action == "allow" && r.from_port == 5001 && r.to_port == 5001
    ]) && length([for r in aws_network_acl.this["private"].ingress : r if r.action == "allow" && r.from_port == 5001 && r.to_port == 5001]) == 3
    error_message = "the app port is allowed from the three public subnets (the ALB) and nowhere else"
  }
  assert {
    # The return rule (1024-65535 from anywhere) covers 5001 too: a deny from
    # anywhere must come after the public subnets' allows and before it.
    condition = (
      length([for r in aws_network_acl.this["private"].ingress : r if r.action == "deny" && r.from_port == 5001 && r.to_port == 5001 && r.cidr_block == "0.0.0.0/0"]) == 1 &&
      alltrue([
        for d in aws_network_acl.this["private"].ingress : alltrue([
          for r in aws_network_acl.this["private"].ingress :
          (r.action == "allow" && r.from_port == 5001 ? r.rule_no < d.rule_no : true) &&
          (r.action == "allow" && r.from_port == 1024 ? r.rule_no > d.rule_no : true)
        ]) if d.action == "deny"
      ])
    )
    error_message = "app port: allowed from the public subnets, then denied from anywhere, before the return rule"
  }
  assert {
    condition = (
      toset([for r in aws_network_acl.this["private"].egress : "${r.action} ${r.from_port}-${r.to_port} ${r.cidr_block}"]) ==
      toset([
        "allow 1024-65535 10.0.0.0/24", "allow 1024-65535 10.0.1.0/24", "allow 1024-65535 10.0.2.0/24",
        "allow 5432-5432 10.0.20.0/24", "allow 5432-5432 10.0.21.0/24", "allow 5432-5432 10.0.22.0/24",
        "allow 443-443 0.0.0.0/0",
      ])
    )
    error_message = "private out: answers to the ALB, PostgreSQL to the database subnets, HTTPS to the AWS APIs (NAT, S3 gateway endpoint)"
  }
  assert {
    condition     = length([for r in aws_network_acl.this["private"].ingress : r if r.from_port == 443]) == 0
    error_message = "without interface endpoints nothing in the private tier listens on 443"
  }
}

run "database_only_from_the_app_subnets" {
  command = plan

  assert {
    condition = (
      toset([for r in aws_network_acl.this["database"].ingress : "${r.action} ${r.from_port}-${r.to_port} ${r.cidr_block}"]) ==
      toset(["allow 5432-5432 10.0.10.0/24", "allow 5432-5432 10.0.11.0/24", "allow 5432-5432 10.0.12.0/24"])
    )
    error_message = "database in: PostgreSQL from the private subnets, nothing else (no return rule: the database opens no connections)"
  }
  assert {
    condition = (
      toset([for r in aws_network_acl.this["database"].egress : "${r.action} ${r.from_port}-${r.to_port} ${r.cidr_block}"]) ==
      toset(["allow 1024-65535 10.0.10.0/24", "allow 1024-65535 10.0.11.0/24", "allow 1024-65535 10.0.12.0/24"])
    )
    error_message = "database out: only the answers to the private subnets"
  }
}

run "every_subnet_has_its_tiers_acl" {
  command = plan

  assert {
    condition = (
      length([for k, a in aws_network_acl_association.this : k if startswith(k, "public-")]) == 3 &&
      length([for k, a in aws_network_acl_association.this : k if startswith(k, "private-")]) == 3 &&
      length([for k, a in aws_network_acl_association.this : k if startswith(k, "database-")]) == 3
    )
    error_message = "each of the nine subnets is associated with its tier's ACL"
  }
  assert {
    condition     = length(aws_default_network_acl.this.ingress) == 0 && length(aws_default_network_acl.this.egress) == 0
    error_message = "the default ACL is taken over and left without rules (deny all)"
  }
}

run "acls_follow_endpoints_and_proxy" {
  command = plan

  variables {
    interface_endpoints         = ["logs", "ssm"]
    endpoint_security_group_ids = ["sg-0123456789abcdef0"]
    enable_db_proxy             = true
    app_port                    = 8080
  }

  assert {
    condition = (
      length([for r in aws_network_acl.this["private"].ingress : r if r.action == "allow" && r.from_port == 443 && contains(["10.0.10.0/24", "10.0.11.0/24", "10.0.12.0/24"], r.cidr_block)]) == 3 &&
      length([for r in aws_network_acl.this["private"].egress : r if r.action == "allow" && r.from_port == 1024 && contains(["10.0.10.0/24", "10.0.11.0/24", "10.0.12.0/24"], r.cidr_block)]) == 3
    )
    error_message = "with interface endpoints, HTTPS and its answers pass between the private subnets (an endpoint ENI in another AZ)"
  }
  assert {
    condition     = length([for r in aws_network_acl.this["private"].ingress : r if r.from_port == 8080 && r.action == "allow"]) == 3 && length([for r in aws_network_acl.this["public"].egress : r if r.from_port == 8080]) == 3
    error_message = "the ACLs follow app_port"
  }
  assert {
    condition = (
      length([for r in aws_network_acl.this["database"].ingress : r if r.from_port == 5432 && contains(["10.0.20.0/24", "10.0.21.0/24", "10.0.22.0/24"], r.cidr_block)]) == 3 &&
      length([for r in aws_network_acl.this["database"].egress : r if r.from_port == 1024 && contains(["10.0.20.0/24", "10.0.21.0/24", "10.0.22.0/24"], r.cidr_block)]) == 3
    )
    error_message = "with the RDS Proxy, PostgreSQL and its answers pass within the database tier"
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

run "rejects_privileged_app_port" {
  command = plan
  variables {
    app_port = 80
  }
  expect_failures = [var.app_port]
}

run "rejects_bad_db_port" {
  command = plan
  variables {
    db_port = 70000
  }
  expect_failures = [var.db_port]
}
