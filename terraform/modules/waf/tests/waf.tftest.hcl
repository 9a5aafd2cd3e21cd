# Plan-only tests of the waf module against a mocked AWS provider: the rules,
# their priorities and actions, the association with the ALB, the logs and
# the alarms.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      name = "eu-north-1"
    }
  }
  mock_resource "aws_wafv2_web_acl" {
    override_during = plan
    defaults = {
      arn = "arn:aws:wafv2:eu-north-1:123456789012:regional/webacl/itemsd-test-waf/11111111-2222-3333-4444-555555555555"
    }
  }
  mock_resource "aws_wafv2_ip_set" {
    override_during = plan
    defaults = {
      arn = "arn:aws:wafv2:eu-north-1:123456789012:regional/ipset/itemsd-test-allowed/11111111-2222-3333-4444-555555555555"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    override_during = plan
    defaults = {
      arn = "arn:aws:logs:eu-north-1:123456789012:log-group:aws-waf-logs-itemsd-test"
    }
  }
}

variables {
  name             = "itemsd-test"
  alb_arn          = "arn:aws:elasticloadbalancing:eu-north-1:123456789012:loadbalancer/app/itemsd-test-alb/0123456789abcdef"
  logs_kms_key_arn = "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  alarm_actions    = ["arn:aws:sns:eu-north-1:123456789012:itemsd-test-alarms"]
}

run "rules_and_their_priorities" {
  command = plan

  assert {
    condition = { for r in aws_wafv2_web_acl.this.rule : r.name => r.priority } == {
      AWSManagedRulesAmazonIpReputationList = 10
      RateLimitPerIP                        = 20
      AWSManagedRulesKnownBadInputsRuleSet  = 30
      AWSManagedRulesCommonRuleSet          = 40
    }
    error_message = "IP reputation (10), then the rate limit (20), known bad inputs (30) and the common rule set (40); no allow list by default"
  }
  assert {
    condition = alltrue([
      for r in aws_wafv2_web_acl.this.rule :
      r.statement[0].managed_rule_group_statement[0].vendor_name == "AWS" &&
      r.statement[0].managed_rule_group_statement[0].name == r.name &&
      length(r.override_action[0].none) == 1 &&
      length(r.statement[0].managed_rule_group_statement[0].rule_action_override) == 0
      if r.name != "RateLimitPerIP"
    ])
    error_message = "the managed rule groups are AWS's, keep their own actions (override none) and override no rule"
  }
  assert {
    condition     = length(aws_wafv2_web_acl.this.default_action[0].allow) == 1 && aws_wafv2_web_acl.this.scope == "REGIONAL"
    error_message = "a regional web ACL that allows what no rule blocks"
  }
  assert {
    condition     = alltrue([for r in aws_wafv2_web_acl.this.rule : r.visibility_config[0].metric_name == r.name && r.visibility_config[0].cloudwatch_metrics_enabled])
    error_message = "every rule publishes metrics under its own name (the alarms' Rule dimension)"
  }
  assert {
    condition     = length(distinct([for r in aws_wafv2_web_acl.this.rule : r.priority])) == length(aws_wafv2_web_acl.this.rule)
    error_message = "no two rules share a priority"
  }
}

run "rate_limit_per_ip_answers_429" {
  command = plan

  assert {
    condition = alltrue([
      for r in aws_wafv2_web_acl.this.rule :
      r.statement[0].rate_based_statement[0].limit == 2000 &&
      r.statement[0].rate_based_statement[0].evaluation_window_sec == 300 &&
      r.statement[0].rate_based_statement[0].aggregate_key_type == "IP" &&
      r.action[0].block[0].custom_response[0].response_code == 429 &&
      r.action[0].block[0].custom_response[0].custom_response_body_key == "rate-limited"
      if r.name == "RateLimitPerIP"
    ]) && length([for r in aws_wafv2_web_acl.this.rule : r if r.name == "RateLimitPerIP"]) == 1
    error_message = "more than 2000 requests per 5 minutes from one IP are blocked with 429"
  }
  assert {
    condition = alltrue([
      for b in aws_wafv2_web_acl.this.custom_response_body :
      b.content_type == "APPLICATION_JSON" && jsondecode(b.content).status == 429 && jsondecode(b.content).error == "Too Many Requests"
    ]) && length(aws_wafv2_web_acl.this.custom_response_body) == 1
    error_message = "the 429 body has itemsd's error shape"
  }
}

run "attached_to_the_alb" {
  command = plan

  assert {
    condition     = aws_wafv2_web_acl_association.this.resource_arn == var.alb_arn
    error_message = "the web ACL protects the given ALB"
  }
  assert {
    condition     = aws_wafv2_web_acl_association.this.web_acl_arn == aws_wafv2_web_acl.this.arn
    error_message = "the association names this web ACL"
  }
}

run "logs_blocked_and_counted_requests_encrypted" {
  command = plan

  assert {
    condition     = startswith(aws_cloudwatch_log_group.this.name, "aws-waf-logs-") && aws_cloudwatch_log_group.this.kms_key_id == var.logs_kms_key_arn && aws_cloudwatch_log_group.this.retention_in_days == 90
    error_message = "the log group has WAF's required prefix, the given key and a retention"
  }
  assert {
    condition     = tolist(aws_wafv2_web_acl_logging_configuration.this.log_destination_configs) == tolist(["arn:aws:logs:eu-north-1:123456789012:log-group:aws-waf-logs-itemsd-test"])
    error_message = "WAF logs to that group"
  }
  assert {
    condition = (
      aws_wafv2_web_acl_logging_configuration.this.logging_filter[0].default_behavior == "DROP" &&
      toset(flatten([for f in aws_wafv2_web_acl_logging_configuration.this.logging_filter[0].filter : [for c in f.condition : c.action_condition[0].action] if f.behavior == "KEEP"])) == toset(["BLOCK", "COUNT"])
    )
    error_message = "by default only blocked and counted requests are logged"
  }
  assert {
    condition     = toset([for r in aws_wafv2_web_acl_logging_configuration.this.redacted_fields : r.single_header[0].name]) == toset(["authorization", "cookie"])
    error_message = "credentials a client may send are redacted"
  }
}

run "alarms_on_blocked_request_spikes" {
  command = plan

  assert {
    condition = alltrue([
      for a in [aws_cloudwatch_metric_alarm.blocked_requests, aws_cloudwatch_metric_alarm.rate_limited] :
      tolist(a.alarm_actions) == tolist(var.alarm_actions) && tolist(a.ok_actions) == tolist(var.alarm_actions) &&
      a.namespace == "AWS/WAFV2" && a.metric_name == "BlockedRequests" && a.dimensions.WebACL == "itemsd-test-waf" && a.dimensions.Region == "eu-north-1"
    ])
    error_message = "both alarms watch this web ACL's BlockedRequests and notify the topic"
  }
  assert {
    condition     = aws_wafv2_web_acl.this.visibility_config[0].metric_name == "itemsd-test-waf"
    error_message = "the WebACL dimension is the web ACL's metric name"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.blocked_requests.dimensions.Rule == "ALL" && aws_cloudwatch_metric_alarm.blocked_requests.threshold == 500
    error_message = "all rules together: more than 500 blocked in 5 minutes"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.rate_limited.dimensions.Rule == "RateLimitPerIP" && aws_cloudwatch_metric_alarm.rate_limited.threshold == 100
    error_message = "the rate rule alone: more than 100 blocked in 5 minutes"
  }
}

run "allow_list_and_counted_rules" {
  command = plan

  variables {
    allowed_ip_cidrs            = ["203.0.113.0/24", "198.51.100.7/32"]
    common_rule_set_count_rules = ["SizeRestrictions_BODY"]
    rate_limit                  = 300
    rate_limit_window_seconds   = 60
    log_allowed_requests        = true
  }

  assert {
    condition = alltrue([
      for r in aws_wafv2_web_acl.this.rule :
      r.priority == 0 && length(r.action[0].allow) == 1 && r.statement[0].ip_set_reference_statement[0].arn == aws_wafv2_ip_set.allowed[0].arn
      if r.name == "AllowListedSources"
    ]) && length([for r in aws_wafv2_web_acl.this.rule : r if r.name == "AllowListedSources"]) == 1
    error_message = "the allow list is rule 0, before every block"
  }
  assert {
    condition     = toset(aws_wafv2_ip_set.allowed[0].addresses) == toset(["203.0.113.0/24", "198.51.100.7/32"]) && aws_wafv2_ip_set.allowed[0].scope == "REGIONAL"
    error_message = "the IP set holds the allowed CIDRs"
  }
  assert {
    condition = alltrue([
      for r in aws_wafv2_web_acl.this.rule :
      [for o in r.statement[0].managed_rule_group_statement[0].rule_action_override : o.name] == ["SizeRestrictions_BODY"] &&
      length(r.statement[0].managed_rule_group_statement[0].rule_action_override[0].action_to_use[0].count) == 1
      if r.name == "AWSManagedRulesCommonRuleSet"
    ]) && length([for r in aws_wafv2_web_acl.this.rule : r if r.name == "AWSManagedRulesCommonRuleSet"]) == 1
    error_message = "a rule named in common_rule_set_count_rules counts instead of blocking"
  }
  assert {
    condition     = alltrue([for r in aws_wafv2_web_acl.this.rule : r.statement[0].rate_based_statement[0].limit == 300 && r.statement[0].rate_based_statement[0].evaluation_window_sec == 60 if r.name == "RateLimitPerIP"])
    error_message = "the rate rule follows its variables"
  }
  assert {
    condition     = length(aws_wafv2_web_acl_logging_configuration.this.logging_filter) == 0
    error_message = "log_allowed_requests logs every request"
  }
}

# --- one run per validation block -------------------------------------------

run "rejects_bad_name" {
  command = plan
  variables {
    name = "Itemsd_WAF"
  }
  expect_failures = [var.name]
}

run "rejects_network_load_balancer" {
  command = plan
  variables {
    alb_arn = "arn:aws:elasticloadbalancing:eu-north-1:123456789012:loadbalancer/net/itemsd-nlb/0123456789abcdef"
  }
  expect_failures = [var.alb_arn]
}

run "rejects_rate_limit_below_aws_minimum" {
  command = plan
  variables {
    rate_limit = 5
  }
  expect_failures = [var.rate_limit]
}

run "rejects_rate_limit_above_aws_maximum" {
  command = plan
  variables {
    rate_limit = 3000000000
  }
  expect_failures = [var.rate_limit]
}

run "rejects_bad_window" {
  command = plan
  variables {
    rate_limit_window_seconds = 30
  }
  expect_failures = [var.rate_limit_window_seconds]
}

run "rejects_allow_everyone" {
  command = plan
  variables {
    allowed_ip_cidrs = ["0.0.0.0/0"]
  }
  expect_failures = [var.allowed_ip_cidrs]
}

run "rejects_ipv6_in_the_ipv4_set" {
  command = plan
  variables {
    allowed_ip_cidrs = ["2001:db8::/32"]
  }
  expect_failures = [var.allowed_ip_cidrs]
}

run "rejects_misspelt_count_rule" {
  command = plan
  variables {
    common_rule_set_count_rules = ["SizeRestriction_BODY"]
  }
  expect_failures = [var.common_rule_set_count_rules]
}

run "rejects_bad_kms_key" {
  command = plan
  variables {
    logs_kms_key_arn = "alias/aws/logs"
  }
  expect_failures = [var.logs_kms_key_arn]
}

run "rejects_bad_retention" {
  command = plan
  variables {
    log_retention_days = 10
  }
  expect_failures = [var.log_retention_days]
}

run "rejects_alarms_that_notify_nobody" {
  command = plan
  variables {
    alarm_actions = []
  }
  expect_failures = [var.alarm_actions]
}

run "rejects_zero_blocked_threshold" {
  command = plan
  variables {
    blocked_requests_threshold = 0
  }
  expect_failures = [var.blocked_requests_threshold]
}

run "rejects_zero_rate_limited_threshold" {
  command = plan
  variables {
    rate_limited_threshold = 0
  }
  expect_failures = [var.rate_limited_threshold]
}
