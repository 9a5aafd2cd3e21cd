//! What to do after a failed call: retry (with capped, jittered backoff), recreate the group
//! and stream, or give the batch up. Throttling arrives as a generic error, so anything not
//! known to be permanent is retried; the bounded buffer keeps memory in check meanwhile.

use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::SdkError;
use aws_sdk_cloudwatchlogs::operation::put_log_events::PutLogEventsError;

/// First retry waits up to this long...
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// ...and no retry waits longer than the cap (`CLOUDWATCH_RETRY_BACKOFF_CAP_MS`, 20 s by
/// default), however long CloudWatch stays away.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub cap: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Throttling, 5xx, network trouble, expired credentials: try the same batch again.
    Retry,
    /// The group or stream is gone (deleted mid-run): create them, then retry.
    Recreate,
    /// The service refuses this batch for good (malformed): drop it and count it.
    Drop,
}

pub fn classify<R>(err: &SdkError<PutLogEventsError, R>) -> Action {
    match err {
        SdkError::ServiceError(e) => match e.err() {
            PutLogEventsError::ResourceNotFoundException(_) => Action::Recreate,
            PutLogEventsError::InvalidParameterException(_) => Action::Drop,
            _ => Action::Retry,
        },
        // A request we could not even build will not build next time either.
        SdkError::ConstructionFailure(_) => Action::Drop,
        _ => Action::Retry,
    }
}

impl Backoff {
    /// Full-jitter exponential backoff: a random wait up to `min(cap, base * 2^attempt)`.
    pub fn wait(self, attempt: u32) -> Duration {
        let ceiling = BACKOFF_BASE
            .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
            .min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatchlogs::types::error::{
        InvalidParameterException, ResourceNotFoundException, ServiceUnavailableException,
    };
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn response(status: u16) -> Response {
        Response::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::empty(),
        )
    }

    fn service(err: PutLogEventsError, status: u16) -> SdkError<PutLogEventsError, Response> {
        SdkError::service_error(err, response(status))
    }

    #[test]
    fn classifies_hand_built_errors() {
        let cases = [
            (
                service(
                    PutLogEventsError::ResourceNotFoundException(
                        ResourceNotFoundException::builder().build(),
                    ),
                    400,
                ),
                Action::Recreate,
            ),
            (
                service(
                    PutLogEventsError::InvalidParameterException(
                        InvalidParameterException::builder().build(),
                    ),
                    400,
                ),
                Action::Drop,
            ),
            (
                service(
                    PutLogEventsError::ServiceUnavailableException(
                        ServiceUnavailableException::builder().build(),
                    ),
                    503,
                ),
                Action::Retry,
            ),
            (
                // Throttling has no modelled variant: it arrives as a generic error.
                service(
                    PutLogEventsError::generic(
                        ErrorMetadata::builder().code("ThrottlingException").build(),
                    ),
                    400,
                ),
                Action::Retry,
            ),
            (
                SdkError::dispatch_failure(ConnectorError::io("connection refused".into())),
                Action::Retry,
            ),
            (SdkError::timeout_error("attempt timed out"), Action::Retry),
            (SdkError::construction_failure("bad input"), Action::Drop),
        ];
        for (err, expected) in cases {
            assert_eq!(classify(&err), expected, "{err:?}");
        }
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let backoff = Backoff {
            cap: Duration::from_secs(20),
        };
        for attempt in 0..40 {
            let wait = backoff.wait(attempt);
            assert!(wait <= backoff.cap, "attempt {attempt}: {wait:?}");
        }
        // A cap below the base bounds the first retries too (the outage tests' setting).
        let short = Backoff {
            cap: Duration::from_millis(50),
        };
        assert!((0..50).all(|a| short.wait(a) <= short.cap));
        let early: Vec<Duration> = (0..50).map(|_| backoff.wait(0)).collect();
        assert!(early.iter().all(|w| *w <= BACKOFF_BASE));
        assert!(early.windows(2).any(|w| w[0] != w[1]), "jittered");
    }
}
