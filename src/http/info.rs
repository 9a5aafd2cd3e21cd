//! `GET /`, `GET /health` and `GET /db`.

use http::StatusCode;
use serde::Serialize;

use super::error::ApiError;
use super::response::{self, Resp};
use super::State;
use crate::db;
use crate::health::Verdict;
use crate::identity::AppInfo;
use crate::telemetry::json::{push_json_str, push_plain_json_str};

/// The parts of the `/` and `/health` bodies that are fixed once the instance knows who it is,
/// rendered to JSON at start-up. Serialising them on every request (eight strings escaped one
/// byte at a time) was a fifth of the instructions of a `/health` request; now a request
/// writes the status words and the timestamp between these pieces.
pub struct Bodies {
    /// `/` from after `status` up to the opening quote of `timestamp`'s value.
    index_middle: String,
    /// `/health` from after `timestamp` up to `checks.application`'s value.
    health_middle: String,
    /// `/health` from after `checks.database` to the end.
    health_tail: String,
}

impl Bodies {
    pub fn new(app: &AppInfo) -> Self {
        let mut index_middle = String::from(",\"service\":\"itemsd\"");
        for (key, value) in [
            ("version", &app.version),
            ("environment", &app.environment),
            ("hostname", &app.hostname),
            ("instance_id", &app.instance_id),
            ("instance_ip", &app.instance_ip),
            ("availability_zone", &app.availability_zone),
        ] {
            push_member(&mut index_middle, key, value);
        }
        index_middle.push_str(",\"timestamp\":\"");

        let mut health_middle = String::new();
        push_member(&mut health_middle, "version", &app.version);
        health_middle.push_str(",\"checks\":{\"application\":");

        let mut health_tail = String::from("},\"instance\":{\"id\":");
        push_json_str(&mut health_tail, &app.instance_id);
        push_member(&mut health_tail, "ip", &app.instance_ip);
        push_member(&mut health_tail, "az", &app.availability_zone);
        health_tail.push_str("}}");
        Self {
            index_middle,
            health_middle,
            health_tail,
        }
    }

    /// `/`'s body.
    fn index(&self, verdict: &Verdict) -> String {
        let mut body = String::with_capacity(self.index_middle.len() + 64);
        body.push_str("{\"status\":");
        push_plain_json_str(
            &mut body,
            if verdict.serving {
                "healthy"
            } else {
                verdict.status
            },
        );
        body.push_str(&self.index_middle);
        response::push_timestamp(&mut body);
        body.push_str("\"}");
        body
    }

    /// `/health`'s body.
    fn health(&self, verdict: &Verdict) -> String {
        let mut body =
            String::with_capacity(self.health_middle.len() + self.health_tail.len() + 128);
        body.push_str("{\"status\":");
        push_plain_json_str(&mut body, verdict.status);
        body.push_str(",\"timestamp\":\"");
        response::push_timestamp(&mut body);
        body.push('"');
        body.push_str(&self.health_middle);
        push_plain_json_str(
            &mut body,
            if verdict.serving {
                "ok"
            } else {
                verdict.status
            },
        );
        body.push_str(",\"database\":");
        push_plain_json_str(&mut body, verdict.database);
        body.push_str(&self.health_tail);
        body
    }
}

/// `,"key":"value"`, escaped.
fn push_member(out: &mut String, key: &str, value: &str) {
    out.push(',');
    push_json_str(out, key);
    out.push(':');
    push_json_str(out, value);
}

/// Who answers; never touches the database.
pub fn index(state: &State) -> Resp {
    response::json_text(StatusCode::OK, state.bodies.index(&state.health.verdict()))
}

/// The load balancer's question, answered from state (see `crate::health`).
pub fn health(state: &State) -> Resp {
    let verdict = state.health.verdict();
    let status = if verdict.serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    response::json_text(status, state.bodies.health(&verdict))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppInfo {
        AppInfo {
            version: "1.2.3".into(),
            environment: "dev \"quoted\"".into(),
            hostname: "host\\name\u{1}".into(),
            instance_id: "i-0abc".into(),
            instance_ip: "10.0.1.5".into(),
            availability_zone: "eu-north-1a".into(),
            region: None,
            instance_type: None,
            ami_id: None,
            autoscaling_group: None,
        }
    }

    fn parse(body: &str) -> serde_json::Value {
        serde_json::from_str(body).expect("the body is JSON")
    }

    /// The body names `keys` in this order (serde_json's map sorts them, so read the text).
    fn assert_order(body: &str, keys: &[&str]) {
        let at: Vec<_> = keys
            .iter()
            .map(|k| {
                body.find(&format!("\"{k}\":"))
                    .unwrap_or_else(|| panic!("{k} in {body}"))
            })
            .collect();
        assert!(at.is_sorted(), "{keys:?} out of order in {body}");
    }

    /// The pre-rendered pieces make the same document, field for field and in the original's
    /// order, as serialising the whole body did; escapes included.
    #[test]
    fn bodies_have_the_original_fields_in_order() {
        let bodies = Bodies::new(&app());
        let degraded = Verdict {
            status: "degraded",
            database: "error",
            serving: true,
        };
        let text = bodies.index(&degraded);
        let index = parse(&text);
        assert_eq!(index.as_object().unwrap().len(), 9);
        assert_order(
            &text,
            &[
                "status",
                "service",
                "version",
                "environment",
                "hostname",
                "instance_id",
                "instance_ip",
                "availability_zone",
                "timestamp",
            ],
        );
        assert_eq!(index["status"], "healthy");
        assert_eq!(index["environment"], "dev \"quoted\"");
        assert_eq!(index["hostname"], "host\\name\u{1}");
        assert!(index["timestamp"].as_str().unwrap().ends_with('Z'));

        let text = bodies.health(&degraded);
        let health = parse(&text);
        assert_eq!(health.as_object().unwrap().len(), 5);
        assert_order(
            &text,
            &[
                "status",
                "timestamp",
                "version",
                "checks",
                "application",
                "database",
                "instance",
            ],
        );
        assert_eq!(health["status"], "degraded");
        assert_eq!(
            health["checks"],
            serde_json::json!({"application": "ok", "database": "error"})
        );
        assert_eq!(
            health["instance"],
            serde_json::json!({"id": "i-0abc", "ip": "10.0.1.5", "az": "eu-north-1a"})
        );

        let draining = Verdict {
            status: "draining",
            database: "ok",
            serving: false,
        };
        assert_eq!(parse(&bodies.index(&draining))["status"], "draining");
        assert_eq!(
            parse(&bodies.health(&draining))["checks"]["application"],
            "draining"
        );
    }
}
