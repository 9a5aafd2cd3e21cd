# Plan-only tests of the ssm module against a mocked AWS provider: sessions
# are logged, encrypted, time out and run as the operator account; the fleet
# commands run what they say, as that account.

mock_provider "aws" {
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
  mock_resource "aws_kms_key" {
    override_during = plan
    defaults = {
      arn    = "arn:aws:kms:eu-north-1:123456789012:key/99999999-8888-7777-6666-555555555555"
      key_id = "99999999-8888-7777-6666-555555555555"
    }
  }
}

variables {
  name             = "itemsd-test"
  logs_kms_key_arn = "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "sessions_are_logged_encrypted_and_bounded" {
  command = plan

  assert {
    condition     = aws_ssm_document.session_preferences[0].name == "SSM-SessionManagerRunShell" && aws_ssm_document.session_preferences[0].document_type == "Session"
    error_message = "the preferences are the Session document start-session uses by default"
  }
  assert {
    condition = (
      jsondecode(aws_ssm_document.session_preferences[0].content).sessionType == "Standard_Stream" &&
      jsondecode(aws_ssm_document.session_preferences[0].content).inputs.cloudWatchLogGroupName == "/itemsd/itemsd-test/ssm" &&
      jsondecode(aws_ssm_document.session_preferences[0].content).inputs.cloudWatchEncryptionEnabled == true &&
      jsondecode(aws_ssm_document.session_preferences[0].content).inputs.cloudWatchStreamingEnabled == true
    )
    error_message = "sessions stream to the module's log group, which must be encrypted"
  }
  assert {
    condition     = jsondecode(aws_ssm_document.session_preferences[0].content).inputs.kmsKeyId == "99999999-8888-7777-6666-555555555555"
    error_message = "session data is encrypted with the module's own key"
  }
  assert {
    condition = (
      jsondecode(aws_ssm_document.session_preferences[0].content).inputs.runAsEnabled == true &&
      jsondecode(aws_ssm_document.session_preferences[0].content).inputs.runAsDefaultUser == "itemsd-ops"
    )
    error_message = "sessions run as itemsd-ops, not as ssm-user (which can sudo)"
  }
  assert {
    condition = (
      jsondecode(aws_ssm_document.session_preferences[0].content).inputs.idleSessionTimeout == "20" &&
      jsondecode(aws_ssm_document.session_preferences[0].content).inputs.maxSessionDuration == "120"
    )
    error_message = "idle sessions end after 20 minutes, any session after 2 hours"
  }
  assert {
    condition     = strcontains(jsondecode(aws_ssm_document.session_preferences[0].content).inputs.shellProfile.linux, "< /etc/itemsd/itemsd.env")
    error_message = "the session shell gets the service's settings"
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.kms_key_id == var.logs_kms_key_arn && aws_cloudwatch_log_group.this.retention_in_days == 365
    error_message = "the log group is encrypted with the given key and keeps a year"
  }
  assert {
    condition     = aws_kms_key.this.enable_key_rotation && length(jsondecode(aws_kms_key.this.policy).Statement) == 1
    error_message = "the session key rotates and leaves its use to IAM policies"
  }
}

run "fleet_commands_run_itemsd_as_the_operator" {
  command = plan

  assert {
    condition     = output.command_document_names == { status = "itemsd-test-status", check = "itemsd-test-check" }
    error_message = "one Run Command document per command"
  }
  assert {
    condition = alltrue([
      for d in aws_ssm_document.command :
      d.document_type == "Command" && d.target_type == "/AWS::EC2::Instance" && jsondecode(d.content).schemaVersion == "2.2"
    ])
    error_message = "Command documents for EC2 instances"
  }
  assert {
    condition = (
      reverse(jsondecode(aws_ssm_document.command["status"].content).mainSteps[0].inputs.runCommand)[0] == "exec runuser -u itemsd-ops -- /usr/local/bin/itemsd status --json" &&
      reverse(jsondecode(aws_ssm_document.command["check"].content).mainSteps[0].inputs.runCommand)[0] == "exec runuser -u itemsd-ops -- /usr/local/bin/itemsd check"
    )
    error_message = "status --json and check, as itemsd-ops, with the exit code of itemsd"
  }
  assert {
    condition     = startswith(jsondecode(aws_ssm_document.command["check"].content).mainSteps[0].inputs.runCommand[0], "if [ -r /etc/itemsd/itemsd.env ]")
    error_message = "the commands load the service's settings first"
  }
  assert {
    condition     = jsondecode(aws_ssm_document.command["check"].content).mainSteps[0].inputs.timeoutSeconds == "120"
    error_message = "check may take up to check_timeout_seconds"
  }
}

run "another_environment_owns_the_preferences" {
  command = plan

  variables {
    manage_session_preferences = false
  }

  assert {
    condition     = length(aws_ssm_document.session_preferences) == 0 && output.session_document_name == null
    error_message = "no preferences document when another environment manages it"
  }
  assert {
    condition     = length(aws_ssm_document.command) == 2
    error_message = "the commands are there all the same"
  }
}

# --- one run per validation block -------------------------------------------

run "rejects_bad_name" {
  command = plan
  variables {
    name = "Itemsd"
  }
  expect_failures = [var.name]
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

run "rejects_root" {
  command = plan
  variables {
    run_as_user = "root"
  }
  expect_failures = [var.run_as_user]
}

run "rejects_long_idle_timeout" {
  command = plan
  variables {
    idle_session_timeout_minutes = 90
  }
  expect_failures = [var.idle_session_timeout_minutes]
}

run "rejects_max_duration_below_idle_timeout" {
  command = plan
  variables {
    idle_session_timeout_minutes = 30
    max_session_duration_minutes = 10
  }
  expect_failures = [var.max_session_duration_minutes]
}

run "rejects_reserved_document_name" {
  command = plan
  variables {
    session_document_name = "AWS-StartInteractiveCommand"
  }
  expect_failures = [var.session_document_name]
}

run "rejects_short_check_timeout" {
  command = plan
  variables {
    check_timeout_seconds = 5
  }
  expect_failures = [var.check_timeout_seconds]
}
