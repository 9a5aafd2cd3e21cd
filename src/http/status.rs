//! `GET /status`: what the service is doing now, for `itemsd status` on the same host. Answered
//! only to a peer on this host (loopback, or this host's own address): it names the database,
//! the last errors and the duties' state, which the internet has no business seeing (the ALB
//! answers it with a fixed 404 as well).

use std::sync::atomic::Ordering;

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::response::{self, Resp};
use super::State;
use crate::health::Phase;

/// The `/status` body; also what `itemsd status` reads back, so both sides share one shape.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct StatusBody {
    pub version: String,
    pub commit: String,
    pub uptime_s: f64,
    /// "starting", "serving" or "draining".
    pub phase: String,
    /// `/health`'s status word: "healthy", "degraded", "unhealthy", "starting", "draining".
    pub health: String,
    pub identity: Identity,
    pub database: Database,
    pub pool: Pool,
    pub duties: Vec<Duty>,
    pub log_shipping: Option<LogShipping>,
    pub metric_publishing: Option<MetricPublishing>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Identity {
    pub instance_id: String,
    pub availability_zone: String,
    pub region: Option<String>,
    pub autoscaling_group: Option<String>,
    pub environment: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Database {
    /// "ok", "error" or "unknown".
    pub state: String,
    pub probe_ms: f64,
    pub last_error: Option<String>,
    pub last_error_age_s: Option<f64>,
    pub schema_version: i32,
    pub expected_schema_version: i32,
    pub tls: String,
    pub login: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Pool {
    pub max: usize,
    pub open: usize,
    pub idle: usize,
    pub in_use: usize,
    pub waiting: usize,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Duty {
    pub name: String,
    pub last_success_age_s: Option<f64>,
    pub errors: u64,
    pub last_error: Option<String>,
    pub last_error_age_s: Option<f64>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct LogShipping {
    pub buffered_bytes: u64,
    pub shipped: u64,
    pub dropped: u64,
    pub retries: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct MetricPublishing {
    pub published: u64,
    pub failed_calls: u64,
}

/// Seconds since `at_ms`, a time a duty state recorded.
fn age_s(at_ms: i64) -> f64 {
    (crate::duties::now_ms() - at_ms).max(0) as f64 / 1000.0
}

pub fn body(state: &State) -> StatusBody {
    let app = &state.app;
    let health = &state.health;
    let verdict = health.verdict();
    let pool = state.connections.pool().status();
    let probe = health.probe.snapshot();
    let duties = state
        .duties
        .iter()
        .map(|(name, s)| {
            let snap = s.snapshot();
            Duty {
                name: (*name).to_owned(),
                last_success_age_s: snap.last_success_ms.map(age_s),
                errors: snap.errors,
                last_error_age_s: snap.last_error.as_ref().map(|e| age_s(e.0)),
                last_error: snap.last_error.map(|e| e.1),
            }
        })
        .collect();
    let c = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    StatusBody {
        version: app.version.clone(),
        commit: crate::BUILD_COMMIT.to_owned(),
        uptime_s: state.started.elapsed().as_secs_f64(),
        phase: match health.phase() {
            Phase::Starting => "starting",
            Phase::Serving => "serving",
            Phase::Draining => "draining",
        }
        .to_owned(),
        health: verdict.status.to_owned(),
        identity: Identity {
            instance_id: app.instance_id.clone(),
            availability_zone: app.availability_zone.clone(),
            region: app.region.clone(),
            autoscaling_group: app.autoscaling_group.clone(),
            environment: app.environment.clone(),
        },
        database: Database {
            state: verdict.database.to_owned(),
            probe_ms: health.probe_latency().as_secs_f64() * 1000.0,
            last_error_age_s: probe.last_error.as_ref().map(|e| age_s(e.0)),
            last_error: probe.last_error.map(|e| e.1),
            schema_version: health.schema_version(),
            expected_schema_version: crate::db::migrations::latest_version(),
            tls: state.db_tls.clone(),
            login: state.db_login.clone(),
        },
        pool: Pool {
            max: pool.max_size,
            open: pool.size,
            idle: pool.available,
            in_use: pool.size.saturating_sub(pool.available),
            waiting: pool.waiting,
        },
        duties,
        log_shipping: state.log_shipping.as_ref().map(|s| LogShipping {
            buffered_bytes: c(&s.buffered_bytes),
            shipped: c(&s.shipped),
            dropped: c(&s.dropped),
            retries: c(&s.retries),
        }),
        metric_publishing: state.metric_publishing.as_ref().map(|s| MetricPublishing {
            published: c(&s.published),
            failed_calls: c(&s.failed_calls),
        }),
    }
}

/// `/status` for a peer on this host; the same 404 as an unknown path for anyone else.
pub fn status(state: &State, from_this_host: bool) -> Result<Resp, ApiError> {
    if !from_this_host {
        return Err(ApiError::not_found("the requested URL was not found"));
    }
    Ok(response::json(StatusCode::OK, &body(state)))
}
