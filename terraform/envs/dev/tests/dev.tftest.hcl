# The whole dev stack planned against a mocked AWS provider: the modules wire
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
  mock_resource "aws_db_proxy" {
    override_during = plan
    defaults = {
      endpoint = "itemsd-dev-proxy.proxy-abcdefghijkl.eu-north-1.rds.amazonaws.com"
    }
  }
}

# The instance's DbiResourceId (and the RDS-managed secret, which the same
# override must then name) known during plan, so that the rds-db:connect ARN
# can be checked.
override_resource {
  target          = module.database.aws_db_instance.this
  override_during = plan
  values = {
    address     = "itemsd-dev-db.abcdefghijkl.eu-north-1.rds.amazonaws.com"
    port        = 5432
    resource_id = "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    master_user_secret = [{
      secret_arn    = "arn:aws:secretsmanager:eu-north-1:123456789012:secret:rds!db-0000-AbCdEf"
      kms_key_id    = "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      secret_status = "active"
    }]
  }
}

variables {
  alarm_emails = ["oncall@example.com"]
}

run "dev_plans" {
  command = plan

  assert {
    condition     = module.network.azs == tolist(["eu-north-1a", "eu-north-1b"])
    error_message = "dev uses the first two AZs"
  }
  assert {
    condition     = length(module.network.nat_gateway_ids) == 1
    error_message = "dev has a single NAT gateway"
  }
  assert {
    condition     = module.compute.ami_id == "ami-0123456789abcdef0"
    error_message = "the AMI is looked up by its Packer tags"
  }
  assert {
    condition     = keys(module.network.network_acl_ids) == ["database", "private", "public"]
    error_message = "every tier has its network ACL"
  }
  assert {
    condition     = length(module.waf) == 0
    error_message = "dev has no WAF by default"
  }
  assert {
    condition     = output.fleet_commands["status"] == "aws ssm send-command --region eu-north-1 --document-name itemsd-dev-status --targets Key=tag:aws:autoscaling:groupName,Values=itemsd-dev --max-concurrency 100% --max-errors 100% --cloud-watch-output-config CloudWatchOutputEnabled=true,CloudWatchLogGroupName=/itemsd/itemsd-dev/ssm"
    error_message = "the fleet is asked by the group's tag, every instance answers (max-errors 100 %), output to the SSM log group"
  }
  assert {
    condition     = module.ssm.session_document_name == "SSM-SessionManagerRunShell" && module.ssm.run_as_user == "itemsd-ops"
    error_message = "the environment writes the default session preferences, sessions run as itemsd-ops"
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
    condition     = strcontains(module.compute.user_data, "DB_SECRET_ARN=arn:aws:secretsmanager:eu-north-1:123456789012:secret:itemsd/db-connection-AbCdEf\n") && strcontains(module.compute.user_data, "ENVIRONMENT=dev\n") && strcontains(module.compute.user_data, "CLOUDWATCH_LOG_GROUP=/itemsd/itemsd-dev\n")
    error_message = "the instances learn their environment and log group"
  }
  assert {
    condition     = module.database.performance_insights_enabled == false
    error_message = "db.t4g.micro runs without Performance Insights"
  }
  assert {
    condition     = startswith(module.compute.service_url, "http://") && tolist(module.compute.internal_paths) == tolist(["/metrics*", "/db*", "/status*"])
    error_message = "dev may serve plain HTTP, but not the internal paths (/metrics, /db, /status)"
  }
  assert {
    # ceil(2 x 110 %) = 3 instances x 10 + 10 = 40 <= floor(1 GiB x 0.7 / 9531392) = 78
    condition     = module.compute.connection_budget.connections == 40 && module.compute.connection_budget.db_max_connections == 78
    error_message = "dev's connection budget: 40 of 78"
  }
  assert {
    condition     = module.compute.settings["DB_SSLMODE"] == "verify-full" && !contains(keys(module.compute.settings), "DB_HOST")
    error_message = "dev verifies the database certificate and connects to the instance"
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

run "proxy_on" {
  command = plan

  variables {
    enable_db_proxy = true
  }

  assert {
    condition     = !contains(keys(module.compute.settings), "DB_IAM_USER") && output.db_iam_user == null
    error_message = "behind the proxy there is no DB_IAM_USER: itemsd logs in as the master user through the proxy"
  }
  assert {
    condition     = !contains(module.iam.instance_action_list, "rds-db:connect") && output.db_user_arn == null
    error_message = "behind the proxy the instance role has no rds-db:connect"
  }

  assert {
    condition     = module.compute.settings["DB_HOST"] == "itemsd-dev-proxy.proxy-abcdefghijkl.eu-north-1.rds.amazonaws.com"
    error_message = "with the proxy on, DB_HOST names the proxy endpoint"
  }
  assert {
    condition     = module.compute.settings["DB_RDS_PROXY"] == "true"
    error_message = "with the proxy on, itemsd is told so (no startup options, unnamed statements)"
  }
}

# itemsd serves as itemsd_app with IAM tokens: the settings file names it, and
# the instance role may rds-db:connect as that one user of this one instance.
run "app_role_logs_in_with_iam_tokens" {
  command = plan

  assert {
    condition     = module.compute.settings["DB_IAM_USER"] == "itemsd_app" && strcontains(module.compute.user_data, "DB_IAM_USER=itemsd_app\n")
    error_message = "the settings file sets DB_IAM_USER=itemsd_app"
  }
  assert {
    condition     = module.compute.settings["DB_SSLMODE"] == "verify-full"
    error_message = "IAM tokens go over verified TLS"
  }
  assert {
    # The policy document itself is unknown during plan here (log group and
    # key ARNs); the iam module's tests check the statement, this checks the
    # wiring: the statement's one resource, built from the database's outputs.
    condition     = contains(module.iam.instance_action_list, "rds-db:connect") && module.iam.db_user_arn == "arn:aws:rds-db:eu-north-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/itemsd_app"
    error_message = "rds-db:connect names this instance's resource id and ends with /itemsd_app"
  }
  assert {
    condition     = output.db_iam_user == "itemsd_app" && output.db_user_arn == module.iam.db_user_arn
    error_message = "the environment outputs the app role and its dbuser ARN"
  }
}

run "waf_on" {
  command = plan

  variables {
    enable_waf           = true
    waf_rate_limit       = 500
    waf_allowed_ip_cidrs = ["203.0.113.10/32"]
  }

  assert {
    condition     = length(module.waf) == 1 && module.waf[0].rules["0"].name == "AllowListedSources" && strcontains(module.waf[0].rules["20"].action, "above 500 requests")
    error_message = "enable_waf puts the web ACL in front of dev's ALB, with the environment's rate limit and allow list"
  }
}

run "rejects_bad_az_count" {
  command = plan
  variables {
    az_count = 4
  }
  expect_failures = [var.az_count]
}
