# WAF for the ALB: a regional web ACL, its logs and its alarms.
#
#   priority  rule                                   action
#   0         AllowListedSources (allowed_ip_cidrs)  allow: trusted sources skip the rest
#   10        AWSManagedRulesAmazonIpReputationList  block: sources Amazon's threat
#                                                    intelligence knows as bad, before
#                                                    anything looks at their requests
#   20        RateLimitPerIP                         block (429): one address sending more
#                                                    than rate_limit requests per window
#   30        AWSManagedRulesKnownBadInputsRuleSet   block: Log4Shell, Java deserialization,
#                                                    localhost Host headers, ...
#   40        AWSManagedRulesCommonRuleSet           block: cross-site scripting, LFI/RFI,
#                                                    SSRF to IMDS, oversized requests, ...
#   default                                          allow
#
# Cheapest and most certain first: a request blocked early is not inspected
# (nor counted against the rate) by the rules after it. The web ACL uses
# about 930 of the 1,500 capacity units a web ACL gets at the base price.
# Logs go to aws-waf-logs-<name> (the prefix WAF requires), blocked and
# counted requests only unless log_allowed_requests is set.

data "aws_region" "current" {}

locals {
  acl_name = "${var.name}-waf"

  # Every rule's metric name is its name: the CloudWatch dimension Rule takes
  # the metric name, and the alarms below name it.
  rate_rule = "RateLimitPerIP"

  # itemsd's error body, so that a client sees the same shape from WAF as from itemsd.
  rate_limited_body = jsonencode({ error = "Too Many Requests", message = "too many requests from this address; slow down and retry later", status = 429 })
}

resource "aws_wafv2_ip_set" "allowed" {
  count = length(var.allowed_ip_cidrs) > 0 ? 1 : 0

  name               = "${var.name}-allowed"
  description        = "Sources that skip the other WAF rules of ${local.acl_name}"
  scope              = "REGIONAL"
  ip_address_version = "IPV4"
  addresses          = var.allowed_ip_cidrs

  tags = var.tags
}

resource "aws_wafv2_web_acl" "this" {
  name        = local.acl_name
  description = "itemsd ALB (${var.name}): IP reputation, rate limit, known bad inputs, common rule set"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  custom_response_body {
    key          = "rate-limited"
    content_type = "APPLICATION_JSON"
    content      = local.rate_limited_body
  }

  dynamic "rule" {
    for_each = aws_wafv2_ip_set.allowed
    content {
      name     = "AllowListedSources"
      priority = 0

      action {
        allow {}
      }

      statement {
        ip_set_reference_statement {
          arn = rule.value.arn
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "AllowListedSources"
        sampled_requests_enabled   = true
      }
    }
  }

  rule {
    name     = "AWSManagedRulesAmazonIpReputationList"
    priority = 10

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAmazonIpReputationList"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "AWSManagedRulesAmazonIpReputationList"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = local.rate_rule
    priority = 20

    action {
      block {
        custom_response {
          response_code            = 429
          custom_response_body_key = "rate-limited"
        }
      }
    }

    statement {
      rate_based_statement {
        limit                 = var.rate_limit
        evaluation_window_sec = var.rate_limit_window_seconds
        aggregate_key_type    = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = local.rate_rule
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 30

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "AWSManagedRulesKnownBadInputsRuleSet"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "AWSManagedRulesCommonRuleSet"
    priority = 40

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"

        # Rules named in common_rule_set_count_rules only count: seen in the
        # metrics and the logs, never blocking.
        dynamic "rule_action_override" {
          for_each = var.common_rule_set_count_rules
          content {
            name = rule_action_override.value
            action_to_use {
              count {}
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "AWSManagedRulesCommonRuleSet"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = local.acl_name
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "this" {
  resource_arn = var.alb_arn
  web_acl_arn  = aws_wafv2_web_acl.this.arn
}

# --- logs ----------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (90 days in prod); WAF logs serve to tune the rules and investigate attacks, not as the audit trail.
  # WAF delivers only to log groups whose name starts with aws-waf-logs-.
  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn

  tags = var.tags
}

# WAF adds the log delivery's resource policy to CloudWatch Logs itself
# (AWSWAF-LOGS), when whoever applies this may logs:PutResourcePolicy.
resource "aws_wafv2_web_acl_logging_configuration" "this" {
  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.this.arn]

  # itemsd uses neither, but a client may send them: keep them out of the logs.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  redacted_fields {
    single_header {
      name = "cookie"
    }
  }

  # Allowed requests are what the ALB and itemsd log already; what WAF alone
  # can tell is what it blocked or counted.
  dynamic "logging_filter" {
    for_each = var.log_allowed_requests ? [] : [1]
    content {
      default_behavior = "DROP"

      filter {
        behavior    = "KEEP"
        requirement = "MEETS_ANY"

        condition {
          action_condition {
            action = "BLOCK"
          }
        }

        condition {
          action_condition {
            action = "COUNT"
          }
        }
      }
    }
  }
}

# --- alarms: blocked-request spikes, to the monitoring module's topic ------------

resource "aws_cloudwatch_metric_alarm" "blocked_requests" {
  alarm_name          = "${var.name}-waf-blocked-requests"
  alarm_description   = "WAF blocked more than ${var.blocked_requests_threshold} requests in 5 minutes (an attack, or a rule blocking real clients: see aws-waf-logs-${var.name})"
  namespace           = "AWS/WAFV2"
  metric_name         = "BlockedRequests"
  dimensions          = { WebACL = local.acl_name, Region = data.aws_region.current.name, Rule = "ALL" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.blocked_requests_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rate_limited" {
  alarm_name          = "${var.name}-waf-rate-limited"
  alarm_description   = "The rate rule blocked more than ${var.rate_limited_threshold} requests in 5 minutes: one or more addresses above ${var.rate_limit} requests per ${var.rate_limit_window_seconds} s"
  namespace           = "AWS/WAFV2"
  metric_name         = "BlockedRequests"
  dimensions          = { WebACL = local.acl_name, Region = data.aws_region.current.name, Rule = local.rate_rule }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.rate_limited_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
