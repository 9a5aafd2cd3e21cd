output "log_group_name" {
  description = "Log group of the session transcripts and the Run Command output (--cloud-watch-output-config CloudWatchLogGroupName)."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of that log group, without \":*\" (the iam module's ssm_log_group_arn)."
  value       = aws_cloudwatch_log_group.this.arn
}

output "session_kms_key_arn" {
  description = "Key of the session data: the instance role decrypts with it, engineers need kms:GenerateDataKey on it."
  value       = aws_kms_key.this.arn
}

output "session_document_name" {
  description = "The Session Manager preferences document, or null when manage_session_preferences is false."
  value       = try(aws_ssm_document.session_preferences[0].name, null)
}

output "command_document_names" {
  description = "Run Command documents by command: status (itemsd status --json) and check (itemsd check)."
  value       = { for k, d in aws_ssm_document.command : k => d.name }
}

output "run_as_user" {
  description = "The operator account sessions and commands run as."
  value       = var.run_as_user
}
