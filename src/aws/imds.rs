//! Instance identity from IMDSv2, through aws-config's client (token first, then GETs with it).
//! Off EC2 it gives up within about a second, so a laptop run is not held up.

use std::time::Duration;

use aws_config::imds::client::error::ImdsError;
use aws_config::provider_config::ProviderConfig;

use crate::config::ImdsConfig;
use crate::identity::InstanceMetadata;

/// Per-request timeouts: IMDS answers in a millisecond on EC2; off EC2 nothing answers at all.
/// Short, so that a blip on EC2 leaves room for another attempt within the start-up budget
/// (`aws::resolve::IMDS_BUDGET`).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
const READ_TIMEOUT: Duration = Duration::from_millis(300);
/// Attempts per value: one blip must not make the host name the log stream and the metric
/// dimension; the start-up budget, not this count, bounds the time off EC2.
const ATTEMPTS: u32 = 3;
/// Token lifetime; the client caches it and renews it before it expires.
const TOKEN_TTL: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("instance metadata (IMDS) is not reachable")]
    Unreachable(#[source] Box<ImdsError>),
    #[error("invalid AWS_EC2_METADATA_SERVICE_ENDPOINT")]
    Endpoint(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub struct Metadata {
    client: aws_config::imds::Client,
}

impl Metadata {
    pub fn new(cfg: &ImdsConfig) -> Result<Self, MetadataError> {
        let mut builder = aws_config::imds::Client::builder()
            .configure(&ProviderConfig::without_region().with_http_client(super::http_client()))
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .token_ttl(TOKEN_TTL)
            .max_attempts(ATTEMPTS);
        if let Some(endpoint) = &cfg.endpoint {
            builder = builder
                .endpoint(endpoint)
                .map_err(MetadataError::Endpoint)?;
        }
        Ok(Self {
            client: builder.build(),
        })
    }

    /// One metadata value; `Ok(None)` when this instance has none (a 404, such as the group tag
    /// when metadata tags are off).
    pub async fn get(&self, path: &str) -> Result<Option<String>, MetadataError> {
        match self.client.get(format!("/latest/meta-data/{path}")).await {
            Ok(value) => Ok(Some(value.as_ref().trim().to_owned())),
            Err(ImdsError::ErrorResponse(e)) if e.response().status().as_u16() == 404 => Ok(None),
            Err(e) => Err(MetadataError::Unreachable(Box::new(e))),
        }
    }

    /// Everything itemsd wants to know about its instance. Fails fast (on the first value)
    /// when there is no IMDS.
    pub async fn identity(&self) -> Result<InstanceMetadata, MetadataError> {
        let instance_id = self.get("instance-id").await?;
        let (local_ipv4, availability_zone, region, instance_type, ami_id, autoscaling_group) = tokio::join!(
            self.get("local-ipv4"),
            self.get("placement/availability-zone"),
            self.get("placement/region"),
            self.get("instance-type"),
            self.get("ami-id"),
            self.get("tags/instance/aws:autoscaling:groupName"),
        );
        Ok(InstanceMetadata {
            instance_id,
            local_ipv4: local_ipv4?,
            availability_zone: availability_zone?,
            region: region?,
            instance_type: instance_type?,
            ami_id: ami_id?,
            autoscaling_group: autoscaling_group?,
        })
    }

    /// The Auto Scaling lifecycle state this instance is heading for (`InService`,
    /// `Terminated`, ...), when it is in a group.
    pub async fn target_lifecycle_state(&self) -> Result<Option<String>, MetadataError> {
        self.get("autoscaling/target-lifecycle-state").await
    }
}
