//! The duties the CloudWatch agent and the user-data script used to do, one folder per AWS
//! service: instance identity from IMDSv2 ([`imds`]), database credentials from Secrets
//! Manager ([`secrets`]), database logins by IAM token ([`rds_iam`]), log shipping to
//! CloudWatch Logs ([`cloudwatch_logs`]), metrics to CloudWatch ([`cloudwatch_metrics`]);
//! [`resolve`] is what start-up learns from them before serving. The AWS limits they name are
//! listed in docs/design.md §4. Nothing here knows about HTTP.

pub mod cloudwatch_logs;
pub mod cloudwatch_metrics;
pub mod imds;
pub mod rds_iam;
pub mod resolve;
pub mod secrets;

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::timeout::TimeoutConfig;

/// Connect timeout for AWS endpoints: they answer in milliseconds when reachable (through NAT
/// or a VPC endpoint); a blackholed route should fail fast and be retried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The SDK's HTTPS client with a single TLS stack, rustls on ring (the SDK's default adds
/// aws-lc-rs as well: twice the TLS code in the static binary).
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Loads the SDK configuration: the standard credential chain (environment, profile, web
/// identity, container, instance profile) and `AWS_ENDPOINT_URL`, so the same binary runs
/// against a local emulator. `attempt_timeout` bounds one attempt of one call, answer included
/// (`AWS_ATTEMPT_TIMEOUT_MS`).
pub async fn sdk_config(region: &str, attempt_timeout: Duration) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .http_client(http_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        )
        .load()
        .await
}
