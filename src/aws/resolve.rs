//! What start-up must learn before serving, for `serve` and `check` alike: who this instance
//! is (IMDSv2, bounded), where the database credentials come from, and the AWS clients and
//! destinations of the log shipper and the metric publisher (built here once, so that what
//! `check` tries is what `serve` uses).

use std::sync::Arc;
use std::time::Duration;

use super::cloudwatch_logs::retry::Backoff;
use super::cloudwatch_logs::Destination;
use super::imds::Metadata;
use super::secrets::SecretCredentials;
use crate::config::{Config, ImdsConfig};
use crate::db::credentials::{ConnectTarget, CredentialSource, StaticCredentials};
use crate::identity::{AppInfo, InstanceMetadata};
use crate::telemetry::log::Logger;

/// Longest start-up waits for instance metadata: on EC2 it answers in milliseconds, and off
/// EC2 a laptop run must not hang.
pub const IMDS_BUDGET: Duration = Duration::from_millis(1500);

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("invalid configuration: an AWS duty (DB_SECRET_ARN, DB_IAM_USER, CLOUDWATCH_LOG_GROUP, CLOUDWATCH_NAMESPACE) is on but no region is known: set AWS_REGION")]
    NoRegion,
    #[error(
        "invalid configuration: DB_IAM_USER is set but the AWS SDK found no credentials provider"
    )]
    NoCredentialsProvider,
}

/// As whom the database is logged in to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbLogin {
    /// The serving role: `DB_IAM_USER` with IAM tokens when set (`serve`, `check`).
    Service,
    /// The schema's owner, with its password (`migrate`).
    Owner,
}

/// What start-up learned before serving: who this is and where the credentials come from.
pub struct Resolved {
    pub app: AppInfo,
    /// The metadata client when this runs on EC2, for the lifecycle state at shutdown.
    pub metadata: Option<Metadata>,
    pub credentials: Arc<dyn CredentialSource>,
    /// The same source when it is Secrets Manager, for the refresh schedule.
    pub secrets: Option<Arc<SecretCredentials>>,
    /// Where logs ship, when `CLOUDWATCH_LOG_GROUP` is set.
    pub logs: Option<LogsTarget>,
    /// Where metrics go, when `CLOUDWATCH_NAMESPACE` is set.
    pub metrics: Option<MetricsTarget>,
}

/// The log group and stream, and the client that writes them.
pub struct LogsTarget {
    pub client: aws_sdk_cloudwatchlogs::Client,
    pub destination: Destination,
    pub backoff: Backoff,
}

/// The metric namespace and the client that publishes to it.
pub struct MetricsTarget {
    pub client: aws_sdk_cloudwatch::Client,
    pub namespace: String,
    pub backoff: Backoff,
}

/// Asks IMDS who this is (bounded), then reads the database secret when one is configured.
pub async fn resolve(
    config: &Config,
    logger: &Logger,
    login: DbLogin,
) -> Result<Resolved, ResolveError> {
    let (metadata, found) = discover(&config.aws.imds, logger).await;
    let app = AppInfo::resolve(&config.app, config.aws.region.as_deref(), &found);
    let iam_user = match login {
        DbLogin::Service => config.db.iam_user.clone(),
        DbLogin::Owner => None,
    };
    let sdk = match (&app.region, config.aws.needs_api() || iam_user.is_some()) {
        (Some(region), true) => Some(super::sdk_config(region, config.aws.attempt_timeout).await),
        (None, true) => return Err(ResolveError::NoRegion),
        (_, false) => None,
    };
    let (credentials, secrets): (Arc<dyn CredentialSource>, _) = match &config.aws.db_secret_arn {
        None => (
            Arc::new(StaticCredentials(ConnectTarget::from_config(&config.db))),
            None,
        ),
        Some(arn) => {
            let sdk = sdk.as_ref().ok_or(ResolveError::NoRegion)?;
            let source = SecretCredentials::load(
                aws_sdk_secretsmanager::Client::new(sdk),
                arn.clone(),
                config.db.name.clone(),
                iam_user.is_none(),
                logger.clone(),
            )
            .await;
            (source.clone(), Some(source))
        }
    };
    let credentials: Arc<dyn CredentialSource> = match (iam_user, &sdk, &app.region) {
        (Some(user), Some(sdk), Some(region)) => {
            let provider = sdk
                .credentials_provider()
                .ok_or(ResolveError::NoCredentialsProvider)?;
            super::rds_iam::IamAuth::load(
                credentials,
                user,
                region.clone(),
                provider,
                logger.clone(),
            )
            .await
        }
        (Some(_), _, _) => return Err(ResolveError::NoRegion),
        (None, _, _) => credentials,
    };
    let backoff = Backoff {
        cap: config.aws.retry_backoff_cap,
    };
    let logs = match (&config.aws.logs, &sdk) {
        (Some(logs), Some(sdk)) => Some(LogsTarget {
            client: aws_sdk_cloudwatchlogs::Client::new(sdk),
            destination: Destination {
                group: logs.group.clone(),
                stream: logs
                    .stream
                    .clone()
                    .unwrap_or_else(|| app.instance_id.clone()),
            },
            backoff,
        }),
        _ => None,
    };
    let metrics = match (&config.aws.metrics, &sdk) {
        (Some(metrics), Some(sdk)) => Some(MetricsTarget {
            client: aws_sdk_cloudwatch::Client::new(sdk),
            namespace: metrics.namespace.clone(),
            backoff,
        }),
        _ => None,
    };
    Ok(Resolved {
        app,
        metadata,
        credentials,
        secrets,
        logs,
        metrics,
    })
}

async fn discover(cfg: &ImdsConfig, logger: &Logger) -> (Option<Metadata>, InstanceMetadata) {
    if !cfg.enabled {
        return (None, InstanceMetadata::default());
    }
    let metadata = match Metadata::new(cfg) {
        Ok(m) => m,
        Err(e) => {
            logger
                .warn("instance metadata disabled")
                .error_chain(&e)
                .emit();
            return (None, InstanceMetadata::default());
        }
    };
    match tokio::time::timeout(IMDS_BUDGET, metadata.identity()).await {
        Ok(Ok(found)) => {
            logger
                .info("identity from instance metadata")
                .field("instance_id", found.instance_id.as_deref())
                .field("availability_zone", found.availability_zone.as_deref())
                .field("autoscaling_group", found.autoscaling_group.as_deref())
                .emit();
            (Some(metadata), found)
        }
        // Not on EC2 (or IMDS off): one line, not an error; configuration fills in.
        Ok(Err(_)) | Err(_) => {
            logger
                .info("no instance metadata; identity from configuration")
                .emit();
            (None, InstanceMetadata::default())
        }
    }
}
