//! `GET /`, `GET /health` and `GET /db`.

use http::StatusCode;
use serde::Serialize;

use super::error::ApiError;
use super::response::{self, Resp};
use super::State;
use crate::db;

#[derive(Serialize)]
struct IndexBody<'a> {
    status: &'static str,
    service: &'static str,
    version: &'a str,
    environment: &'a str,
    hostname: &'a str,
    instance_id: &'a str,
    instance_ip: &'a str,
    availability_zone: &'a str,
    timestamp: String,
}

/// Who answers; never touches the database.
pub fn index(state: &State) -> Resp {
    let app = &state.app;
    let verdict = state.health.verdict();
    response::json(
        StatusCode::OK,
        &IndexBody {
            status: if verdict.serving {
                "healthy"
            } else {
                verdict.status
            },
            service: "itemsd",
            version: &app.version,
            environment: &app.environment,
            hostname: &app.hostname,
            instance_id: &app.instance_id,
            instance_ip: &app.instance_ip,
            availability_zone: &app.availability_zone,
            timestamp: response::timestamp(),
        },
    )
}

#[derive(Serialize)]
struct HealthBody<'a> {
    status: &'static str,
    timestamp: String,
    version: &'a str,
    checks: Checks,
    instance: Instance<'a>,
}

#[derive(Serialize)]
struct Checks {
    application: &'static str,
    database: &'static str,
}

#[derive(Serialize)]
struct Instance<'a> {
    id: &'a str,
    ip: &'a str,
    az: &'a str,
}

/// The load balancer's question, answered from state (see `crate::health`).
pub fn health(state: &State) -> Resp {
    let verdict = state.health.verdict();
    let app = &state.app;
    let status = if verdict.serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    response::json(
        status,
        &HealthBody {
            status: verdict.status,
            timestamp: response::timestamp(),
            version: &app.version,
            checks: Checks {
                application: if verdict.serving {
                    "ok"
                } else {
                    verdict.status
                },
                database: verdict.database,
            },
            instance: Instance {
                id: &app.instance_id,
                ip: &app.instance_ip,
                az: &app.availability_zone,
            },
        },
    )
}

#[derive(Serialize)]
struct DbBody {
    status: &'static str,
    database_version: String,
    tables_count: i64,
    items_count: i64,
    /// The original reported the configured maximum under this name.
    pool_size: usize,
    schema_version: i32,
    pool: PoolBody,
}

#[derive(Serialize)]
struct PoolBody {
    max: usize,
    size: usize,
    available: usize,
    waiting: usize,
}

#[derive(Serialize)]
struct DbErrorBody {
    status: &'static str,
    error: &'static str,
    message: String,
}

/// The strict database check: a real round trip.
pub async fn db(state: &State) -> Resp {
    // A connection of its own, never a shared lane: this is the strict check of the pool.
    let result = state
        .connections
        .exclusive(state.db_deadline, async |conn| db::info::read(conn).await)
        .await
        .map_err(ApiError::from);
    match result {
        Ok(info) => {
            let pool = state.connections.pool().status();
            response::json(
                StatusCode::OK,
                &DbBody {
                    status: "connected",
                    database_version: info.version,
                    tables_count: info.tables_count,
                    items_count: info.items_count,
                    pool_size: pool.max_size,
                    schema_version: info.schema_version,
                    pool: PoolBody {
                        max: pool.max_size,
                        size: pool.size,
                        available: pool.available,
                        waiting: pool.waiting,
                    },
                },
            )
        }
        Err(e) => {
            state.log_error_cause(&e);
            // The original's shape for this route: `status` is the word "error".
            let status = if e.status.is_server_error() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                e.status
            };
            response::json(
                status,
                &DbErrorBody {
                    status: "error",
                    error: status.canonical_reason().unwrap_or("Error"),
                    message: e.message.into_owned(),
                },
            )
        }
    }
}
