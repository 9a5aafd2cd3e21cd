//! The HTTP side: the server loop, the router, one file per resource, and error mapping.

pub mod body;
pub mod error;
pub mod idle;
pub mod info;
pub mod items;
pub mod metrics;
pub mod response;
pub mod router;
pub mod server;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use tokio::sync::Semaphore;

use crate::aws::cloudwatch_logs::ShipperStats;
use crate::aws::cloudwatch_metrics::PublisherStats;
use crate::db::{Connections, DbError, Object};
use crate::health::Health;
use crate::identity::AppInfo;
use crate::telemetry::log::Logger;
use crate::telemetry::metrics::HttpMetrics;
use error::ApiError;

/// What every handler may use. Built once at start-up and shared by all connections.
pub struct State {
    pub app: AppInfo,
    /// `/` and `/health` bodies' fixed parts, rendered from `app` once.
    pub bodies: info::Bodies,
    /// The pool, and what the item routes run their statements on: shared, pipelined
    /// connections of it. Shared with the health probe, which cuts off the same connections
    /// when its own deadline passes.
    pub connections: Arc<Connections>,
    pub health: Arc<Health>,
    pub metrics: Arc<HttpMetrics>,
    pub logger: Logger,
    /// Bounds the requests served at once: a request that finds no permit is answered 503 at
    /// once instead of queueing without limit behind a slow database.
    pub limiter: Arc<Semaphore>,
    pub body_timeout: Duration,
    /// Longest any request waits on the database in all (pool checkout plus queries), so a
    /// database that stopped answering cannot hold requests past it.
    pub db_deadline: Duration,
    /// `X-Instance-ID`, encoded once.
    pub instance_header: HeaderValue,
    /// The access log's fields fixed for the process, rendered once.
    pub access_log: router::AccessLogFields,
    /// The CloudWatch Logs shipper's counters, when shipping is on.
    pub log_shipping: Option<Arc<ShipperStats>>,
    /// The CloudWatch metric publisher's counters, when publishing is on.
    pub metric_publishing: Option<Arc<PublisherStats>>,
    /// The background duties' last success and last error, for `/metrics` and `/status`.
    pub duties: crate::duties::DutyStates,
    /// When serving started, for `/status`'s uptime.
    pub started: std::time::Instant,
    /// The database TLS mode and bundle, and who logs in how, for `/status` (never a secret).
    pub db_tls: String,
    pub db_login: String,
}

impl State {
    /// Runs one statement's worth of work on a shared connection within
    /// [`State::db_deadline`].
    pub async fn db<T>(
        &self,
        op: impl AsyncFnOnce(&Object) -> Result<T, DbError>,
    ) -> Result<T, ApiError> {
        self.connections
            .run(self.db_deadline, op)
            .await
            .map_err(ApiError::from)
    }

    /// Logs what lies behind a server-side error answer; client errors are not worth a line
    /// beyond the access log.
    pub fn log_error_cause(&self, err: &ApiError) {
        if !err.status.is_server_error() {
            return;
        }
        let record = self
            .logger
            .warn("request failed")
            .field("status", err.status.as_u16())
            .field("reason", err.message.as_ref());
        match &err.cause {
            Some(cause) => record.error_chain(cause.as_ref()).emit(),
            None => record.emit(),
        }
    }
}
