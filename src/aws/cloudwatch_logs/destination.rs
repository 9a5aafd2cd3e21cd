//! The group and stream the events go to, and making sure they exist, on a least-privilege
//! role: Terraform owns the group (its retention, its KMS key), so the instance role has
//! `logs:CreateLogStream` and `logs:PutLogEvents` but not `logs:CreateLogGroup`. IAM denies by
//! default, so asking for the group first would fail on AWS even when the group exists: the
//! stream is made first, and the group only when CloudWatch says the group itself is missing.

use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::Client;

/// Where the events go, fixed for the process's life.
#[derive(Clone, Debug)]
pub struct Destination {
    pub group: String,
    pub stream: String,
}

/// Why the destination could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    /// The group does not exist and this role may not create it: it is not ours to make.
    #[error(
        "log group {group} does not exist and this role may not create it (logs:CreateLogGroup \
         is not granted: the group belongs to the Terraform that made the role): {cause}"
    )]
    GroupMissing { group: String, cause: String },
    /// Anything else (throttling, the network, a permission missing on the stream): worth
    /// trying again later.
    #[error("{0}")]
    Call(String),
}

/// IAM's refusal: its error codes (the JSON protocol's and the query protocol's), or a 403
/// whose body did not parse (as from emulators that answer JSON-protocol calls in XML).
fn is_access_denied(code: Option<&str>, status: Option<u16>) -> bool {
    code.is_some_and(|c| c.starts_with("AccessDenied")) || status == Some(403)
}

fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DisplayErrorContext(err).to_string()
}

/// Creates the stream, and the group only if CloudWatch says the group is missing; an
/// existing stream or group is fine.
pub async fn ensure(client: &Client, destination: &Destination) -> Result<(), DestinationError> {
    match create_stream(client, destination).await {
        Ok(()) => return Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) => {}
        Err(e) => return Err(DestinationError::Call(describe(&e))),
    }
    if let Err(e) = client
        .create_log_group()
        .log_group_name(&destination.group)
        .send()
        .await
    {
        let exists = e
            .as_service_error()
            .is_some_and(|s| s.is_resource_already_exists_exception());
        let status = e.raw_response().map(|r| r.status().as_u16());
        if is_access_denied(e.code(), status) {
            return Err(DestinationError::GroupMissing {
                group: destination.group.clone(),
                cause: describe(&e),
            });
        }
        if !exists {
            return Err(DestinationError::Call(describe(&e)));
        }
    }
    create_stream(client, destination)
        .await
        .map_err(|e| DestinationError::Call(describe(&e)))
}

/// Creates the stream; one that exists already counts as made.
async fn create_stream(
    client: &Client,
    destination: &Destination,
) -> Result<(), SdkError<aws_sdk_cloudwatchlogs::operation::create_log_stream::CreateLogStreamError>>
{
    match client
        .create_log_stream()
        .log_group_name(&destination.group)
        .log_stream_name(&destination.stream)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::is_access_denied;

    #[test]
    fn access_denied_in_either_protocol() {
        assert!(is_access_denied(Some("AccessDeniedException"), Some(400)));
        assert!(is_access_denied(Some("AccessDenied"), Some(403)));
        assert!(is_access_denied(None, Some(403)));
        assert!(!is_access_denied(Some("ThrottlingException"), Some(400)));
        assert!(!is_access_denied(None, None));
    }
}
