//! What a failed PutMetricData means: the request itself is wrong (drop it, it would fail
//! again) or anything else (throttling, 5xx, network: retry with the logs' backoff).

use aws_sdk_cloudwatch::error::SdkError;
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;

pub use crate::aws::cloudwatch_logs::retry::Backoff;

pub fn is_permanent<R>(err: &SdkError<PutMetricDataError, R>) -> bool {
    match err {
        SdkError::ServiceError(e) => matches!(
            e.err(),
            PutMetricDataError::InvalidParameterValueException(_)
                | PutMetricDataError::InvalidParameterCombinationException(_)
                | PutMetricDataError::MissingRequiredParameterException(_)
        ),
        SdkError::ConstructionFailure(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::types::error::{InternalServiceFault, InvalidParameterValueException};
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;

    fn service(err: PutMetricDataError, status: u16) -> SdkError<PutMetricDataError, Response> {
        SdkError::service_error(
            err,
            Response::new(
                StatusCode::try_from(status).expect("status"),
                SdkBody::empty(),
            ),
        )
    }

    #[test]
    fn only_malformed_requests_are_permanent() {
        assert!(is_permanent(&service(
            PutMetricDataError::InvalidParameterValueException(
                InvalidParameterValueException::builder().build()
            ),
            400
        )));
        assert!(!is_permanent(&service(
            PutMetricDataError::InternalServiceFault(InternalServiceFault::builder().build()),
            500
        )));
        assert!(!is_permanent::<Response>(&SdkError::timeout_error("slow")));
    }
}
