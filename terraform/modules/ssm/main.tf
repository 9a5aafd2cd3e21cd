# Operations over SSM, for engineers and for the fleet:
#
#   session preferences  the Session document SSM-SessionManagerRunShell, which
#                        `aws ssm start-session` uses when no --document-name
#                        is given: transcripts streamed to an encrypted log
#                        group, session data encrypted with a key of its own,
#                        an idle timeout and a maximum duration, and the shell
#                        run as an operator account without sudo
#   Run Command          <name>-status (itemsd status --json) and <name>-check
#                        (itemsd check), for every instance of the group at
#                        once; their output goes to the same log group
#
# Session Manager keeps one preferences document per account and region, so
# only one environment per account and region may manage it
# (manage_session_preferences); docs/operations.md says what to do otherwise.
# The instance role may write only this module's log group and decrypt with
# only its key (the iam module's WriteSsmLogs, FindSsmLogGroup and
# DecryptSessionData statements).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id     = data.aws_caller_identity.current.account_id
  partition      = data.aws_partition.current.partition
  log_group_name = "/itemsd/${var.name}/ssm"

  # What the image provides (ami/scripts/install-itemsd.sh) and the compute
  # module's user data writes.
  itemsd        = "/usr/local/bin/itemsd"
  settings_file = "/etc/itemsd/itemsd.env"

  # itemsd reads its settings from the environment; systemd gives the service
  # the settings file through EnvironmentFile=, a shell gets nothing. This
  # exports it the way systemd reads it: one KEY=VALUE a line, the value taken
  # literally (sourcing it with `.` would expand and split it).
  load_settings = "if [ -r ${local.settings_file} ]; then while IFS= read -r line; do case \"$line\" in '' | '#'*) ;; *=*) export \"$line\" ;; esac; done < ${local.settings_file}; fi"

  # Run Command runs as root; the commands need no root, so they run as the
  # operator account, and the fleet sees what an engineer's session sees. A
  # missing account is exit 125, not an answer of itemsd's.
  as_operator = "id -u ${var.run_as_user} >/dev/null 2>&1 || { echo 'the image has no user ${var.run_as_user} (ami/scripts/install-itemsd.sh adds it)' >&2; exit 125; }"

  commands = {
    status = {
      description = "itemsd status --json on every targeted instance: 0 serving and healthy, 1 serving but degraded, 2 starting or draining, 3 not running"
      command     = "${local.itemsd} status --json"
      timeout     = 30
    }
    check = {
      description = "itemsd check on every targeted instance: 0 when the configuration and every dependency check out, 1 otherwise"
      command     = "${local.itemsd} check"
      timeout     = var.check_timeout_seconds
    }
  }
}

# --- encryption: session data, and the log group ------------------------------

# Session Manager encrypts the session's data channel with this key on top of
# TLS: the engineer's client needs kms:GenerateDataKey on it, the instance role
# kms:Decrypt. A key of its own, so that this Decrypt opens nothing else.
resource "aws_kms_key" "this" {
  description             = "${var.name}: Session Manager session data"
  deletion_window_in_days = 30
  enable_key_rotation     = true

  # Only the account's IAM policies decide who may use it.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountIAMPolicies"
      Effect    = "Allow"
      Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })

  tags = merge(var.tags, { Name = "${var.name}-ssm-sessions" })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-ssm-sessions"
  target_key_id = aws_kms_key.this.key_id
}

# Session transcripts and Run Command output. Terraform owns the group, its
# retention and its key: the instance role may not create groups.
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable: 365 days in prod (session transcripts are audit records), 30 in dev.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn

  tags = var.tags
}

# --- Session Manager preferences -----------------------------------------------

resource "aws_ssm_document" "session_preferences" {
  count = var.manage_session_preferences ? 1 : 0

  name            = var.session_document_name
  document_type   = "Session"
  document_format = "JSON"

  content = jsonencode({
    schemaVersion = "1.0"
    description   = "Session Manager preferences (${var.name}): logged, encrypted, run as ${var.run_as_user}"
    sessionType   = "Standard_Stream"
    inputs = {
      # Streamed while the session runs, so that a session that never ends
      # cleanly is logged all the same; the agent refuses to start a session
      # when the group is not KMS-encrypted.
      cloudWatchLogGroupName      = aws_cloudwatch_log_group.this.name
      cloudWatchEncryptionEnabled = true
      cloudWatchStreamingEnabled  = true
      s3BucketName                = ""
      s3KeyPrefix                 = ""
      s3EncryptionEnabled         = true
      kmsKeyId                    = aws_kms_key.this.key_id
      runAsEnabled                = true
      runAsDefaultUser            = var.run_as_user
      idleSessionTimeout          = tostring(var.idle_session_timeout_minutes)
      maxSessionDuration          = tostring(var.max_session_duration_minutes)
      shellProfile = {
        linux   = "${local.load_settings}; cd ~"
        windows = ""
      }
    }
  })

  tags = var.tags
}

# --- Run Command: ask every instance ---------------------------------------------

resource "aws_ssm_document" "command" {
  for_each = local.commands

  name            = "${var.name}-${each.key}"
  document_type   = "Command"
  document_format = "JSON"
  target_type     = "/AWS::EC2::Instance"

  # The command's exit code is the invocation's ResponseCode (non-zero ones
  # show as Failed), so one answer per instance needs no parsing.
  content = jsonencode({
    schemaVersion = "2.2"
    description   = each.value.description
    mainSteps = [{
      action       = "aws:runShellScript"
      name         = each.key
      precondition = { StringEquals = ["platformType", "Linux"] }
      inputs = {
        timeoutSeconds = tostring(each.value.timeout)
        runCommand = [
          local.load_settings,
          local.as_operator,
          "exec runuser -u ${var.run_as_user} -- ${each.value.command}",
        ]
      }
    }]
  })

  tags = var.tags
}
