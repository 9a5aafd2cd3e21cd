# Plan-only tests of the security module against a mocked AWS provider. The
# groups get fixed IDs during plan so that the tests can see which group
# each rule references.

mock_provider "aws" {}

override_resource {
  target          = aws_security_group.alb
  override_during = plan
  values = {
    id = "sg-0a1b0000000000001"
  }
}

override_resource {
  target          = aws_security_group.app
  override_during = plan
  values = {
    id = "sg-0a1b0000000000002"
  }
}

override_resource {
  target          = aws_security_group.db
  override_during = plan
  values = {
    id = "sg-0a1b0000000000003"
  }
}

override_resource {
  target          = aws_security_group.endpoints
  override_during = plan
  values = {
    id = "sg-0a1b0000000000004"
  }
}

override_resource {
  target          = aws_security_group.proxy
  override_during = plan
  values = {
    id = "sg-0a1b0000000000005"
  }
}

variables {
  name   = "itemsd-test"
  vpc_id = "vpc-0123456789abcdef0"
}

run "only_the_alb_is_open_to_the_internet" {
  command = plan

  variables {
    enable_https = true
  }

  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.alb_http : r.security_group_id == "sg-0a1b0000000000001" && r.from_port == 80])
    error_message = "port 80 opens on the ALB group only"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.alb_https) == 1 && aws_vpc_security_group_ingress_rule.alb_https["0.0.0.0/0"].from_port == 443
    error_message = "443 opens on the ALB when HTTPS is on"
  }
  assert {
    condition = alltrue([
      for r in [
        aws_vpc_security_group_ingress_rule.app_from_alb,
        aws_vpc_security_group_ingress_rule.db_from_app,
        aws_vpc_security_group_ingress_rule.endpoints_from_app,
      ] : r.cidr_ipv4 == null && r.cidr_ipv6 == null && r.prefix_list_id == null
    ])
    error_message = "no CIDR rule admits traffic into the app, database or endpoint tiers"
  }
}

run "tiers_reference_each_other" {
  command = plan

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.app_from_alb.security_group_id == "sg-0a1b0000000000002" &&
      aws_vpc_security_group_ingress_rule.app_from_alb.referenced_security_group_id == "sg-0a1b0000000000001" &&
      aws_vpc_security_group_ingress_rule.app_from_alb.from_port == 5001 &&
      aws_vpc_security_group_ingress_rule.app_from_alb.to_port == 5001
    )
    error_message = "the app tier admits the app port from the ALB group only"
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.db_from_app.security_group_id == "sg-0a1b0000000000003" &&
      aws_vpc_security_group_ingress_rule.db_from_app.referenced_security_group_id == "sg-0a1b0000000000002" &&
      aws_vpc_security_group_ingress_rule.db_from_app.from_port == 5432
    )
    error_message = "the database admits 5432 from the app group only"
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.alb_to_app.referenced_security_group_id == "sg-0a1b0000000000002" && aws_vpc_security_group_egress_rule.alb_to_app.from_port == 5001
    error_message = "the ALB may only talk to the app port of the app group"
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.app_to_db.referenced_security_group_id == "sg-0a1b0000000000003"
    error_message = "the app reaches the database through its group"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.alb_https) == 0
    error_message = "443 stays closed without HTTPS"
  }
}

run "egress_is_limited" {
  command = plan

  assert {
    condition     = aws_vpc_security_group_egress_rule.app_https_internet[0].from_port == 443 && aws_vpc_security_group_egress_rule.app_https_internet[0].to_port == 443 && aws_vpc_security_group_egress_rule.app_https_internet[0].ip_protocol == "tcp"
    error_message = "internet egress of the app tier is HTTPS only"
  }
  assert {
    condition = alltrue([
      for r in concat(
        [aws_vpc_security_group_egress_rule.alb_to_app, aws_vpc_security_group_egress_rule.app_to_db, aws_vpc_security_group_egress_rule.app_to_endpoints],
        aws_vpc_security_group_egress_rule.app_https_internet,
      ) : r.ip_protocol != "-1" && r.from_port == r.to_port
    ])
    error_message = "every egress rule names one TCP port"
  }
}

run "endpoints_only_no_internet" {
  command = plan

  variables {
    app_https_egress_to_internet = false
    enable_s3_egress             = true
    s3_prefix_list_id            = "pl-0123456789abcdef0"
  }

  assert {
    condition     = length(aws_vpc_security_group_egress_rule.app_https_internet) == 0
    error_message = "no internet egress when the endpoints serve the APIs"
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.app_to_s3[0].prefix_list_id == "pl-0123456789abcdef0"
    error_message = "S3 is reached through the gateway endpoint's prefix list"
  }
}

run "no_proxy_group_by_default" {
  command = plan

  assert {
    condition     = length(aws_security_group.proxy) == 0 && length(aws_vpc_security_group_ingress_rule.db_from_proxy) == 0 && output.proxy_security_group_id == null
    error_message = "no proxy group or rules without enable_db_proxy"
  }
}

run "proxy_sits_between_app_and_db" {
  command = plan

  variables {
    enable_db_proxy = true
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.proxy_from_app[0].security_group_id == "sg-0a1b0000000000005" &&
      aws_vpc_security_group_ingress_rule.proxy_from_app[0].referenced_security_group_id == "sg-0a1b0000000000002" &&
      aws_vpc_security_group_ingress_rule.proxy_from_app[0].from_port == 5432
    )
    error_message = "the proxy admits PostgreSQL from the app group only"
  }
  assert {
    condition = (
      aws_vpc_security_group_egress_rule.proxy_to_db[0].referenced_security_group_id == "sg-0a1b0000000000003" &&
      aws_vpc_security_group_ingress_rule.db_from_proxy[0].security_group_id == "sg-0a1b0000000000003" &&
      aws_vpc_security_group_ingress_rule.db_from_proxy[0].referenced_security_group_id == "sg-0a1b0000000000005"
    )
    error_message = "the proxy reaches the database, and the database admits the proxy"
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.app_to_proxy[0].referenced_security_group_id == "sg-0a1b0000000000005" && aws_vpc_security_group_egress_rule.app_to_proxy[0].to_port == 5432
    error_message = "the app may reach the proxy on the PostgreSQL port"
  }
  assert {
    condition     = output.proxy_security_group_id == "sg-0a1b0000000000005"
    error_message = "the proxy group is an output"
  }
}

# --- one run per validation block -------------------------------------------

run "rejects_bad_name" {
  command = plan
  variables {
    name = "-bad"
  }
  expect_failures = [var.name]
}

run "rejects_bad_vpc_id" {
  command = plan
  variables {
    vpc_id = "subnet-123"
  }
  expect_failures = [var.vpc_id]
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

run "rejects_bad_alb_cidr" {
  command = plan
  variables {
    alb_ingress_cidr_blocks = ["everyone"]
  }
  expect_failures = [var.alb_ingress_cidr_blocks]
}

run "rejects_s3_egress_without_prefix_list" {
  command = plan
  variables {
    enable_s3_egress = true
  }
  expect_failures = [var.s3_prefix_list_id]
}
