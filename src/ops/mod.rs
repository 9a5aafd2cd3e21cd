//! The engineer's subcommands. `itemsd check` answers "is this instance configured right, and
//! can it reach everything?"; `itemsd status` ([`status`]) "what is the service doing now?";
//! `itemsd migrate` applies the schema. They print for a person in an SSM shell, not for a
//! log pipeline.

pub mod status;

use std::io::Write;
use std::sync::Arc;

use crate::aws::resolve::{resolve, DbLogin, Resolved};
use crate::aws::{cloudwatch_logs, cloudwatch_metrics};
use crate::config::Config;
use crate::db::{self, DbError};
use crate::telemetry::log::{cause_chain, Level, Logger, MemorySink};

fn line(out: &mut impl Write, ok: bool, what: &str, detail: &str) {
    let _ = writeln!(
        out,
        "{:<5} {:<10} {}",
        if ok { "ok" } else { "FAIL" },
        what,
        detail
    );
}

/// Resolves identity and credentials quietly: the subcommands print their own findings.
async fn resolved(config: &Config, login: DbLogin, out: &mut impl Write) -> Option<Resolved> {
    let quiet = Logger::new(Level::Error, Arc::new(MemorySink::default()));
    match resolve(config, &quiet, login).await {
        Ok(r) => Some(r),
        Err(e) => {
            line(out, false, "config", &cause_chain(&e));
            None
        }
    }
}

/// Opens one connection with the resolved credentials.
async fn connect(
    config: &Config,
    resolved: &Resolved,
    out: &mut impl Write,
) -> Option<tokio_postgres::Client> {
    let target = match resolved.credentials.current() {
        Ok(t) => t,
        Err(e) => {
            line(out, false, "database", &cause_chain(&e));
            return None;
        }
    };
    let place = format!(
        "{}:{}/{} as {}",
        target.host, target.port, target.dbname, target.user
    );
    let tls = match db::tls::connector(&config.db.tls) {
        Ok(tls) => tls,
        Err(e) => {
            line(out, false, "tls", &cause_chain(&e));
            return None;
        }
    };
    match db::pool::connect_one(&config.db, &tls, &target).await {
        Ok((client, _task)) => {
            line(out, true, "tls", &tls_session(&client, config).await);
            Some(client)
        }
        Err(e) => {
            if let Some(why) = db::tls::diagnose(&e) {
                line(
                    out,
                    false,
                    "tls",
                    &format!("{}: {why}", config.db.tls.describe()),
                );
            }
            line(
                out,
                false,
                "database",
                &format!("{place}: {}", cause_chain(&DbError::from(e))),
            );
            None
        }
    }
}

/// The mode and bundle configured, and what the server says of this session.
async fn tls_session(client: &tokio_postgres::Client, config: &Config) -> String {
    let configured = config.db.tls.describe();
    let session = client
        .query_opt(
            "SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl",
            &[],
        )
        .await;
    match session {
        Ok(Some(row)) => format!(
            "{configured}: {} {}",
            row.try_get::<_, String>(0).unwrap_or_default(),
            row.try_get::<_, String>(1).unwrap_or_default()
        ),
        Ok(None) => format!("{configured}: not encrypted"),
        Err(e) => format!("{configured}: session unknown ({e})"),
    }
}

/// Prints the configuration, identity, credential source and what the database says; returns
/// whether everything passed.
pub async fn check(config: &Config, out: &mut impl Write) -> bool {
    let _ = writeln!(out, "configuration (secrets masked):");
    for (name, value) in config.describe() {
        let _ = writeln!(out, "  {name:<36} {value}");
    }
    let Some(resolved) = resolved(config, DbLogin::Service, out).await else {
        return false;
    };
    let app = &resolved.app;
    line(
        out,
        true,
        "identity",
        &format!(
            "instance {} ip {} az {} region {} group {} ({})",
            app.instance_id,
            app.instance_ip,
            app.availability_zone,
            app.region.as_deref().unwrap_or("-"),
            app.autoscaling_group.as_deref().unwrap_or("-"),
            if resolved.metadata.is_some() {
                "from IMDS"
            } else {
                "no IMDS: from configuration"
            }
        ),
    );
    let mut ok = true;
    if let Some(logs) = &resolved.logs {
        let destination = &logs.destination;
        match cloudwatch_logs::test_call(&logs.client, destination).await {
            Ok(()) => line(
                out,
                true,
                "logs",
                &format!(
                    "PutLogEvents accepted by {}/{}",
                    destination.group, destination.stream
                ),
            ),
            Err(e) => {
                line(out, false, "logs", &format!("{}: {e}", destination.group));
                ok = false;
            }
        }
    }
    if let Some(metrics) = &resolved.metrics {
        match cloudwatch_metrics::test_call(&metrics.client, &metrics.namespace, &app.instance_id)
            .await
        {
            Ok(()) => line(
                out,
                true,
                "metrics",
                &format!("PutMetricData accepted in namespace {}", metrics.namespace),
            ),
            Err(e) => {
                line(
                    out,
                    false,
                    "metrics",
                    &format!("{}: {e}", metrics.namespace),
                );
                ok = false;
            }
        }
    }
    if let Some(secrets) = &resolved.secrets {
        match secrets.read().await {
            Ok(t) => line(
                out,
                true,
                "secret",
                &format!(
                    "{}: {}:{}/{} as {}",
                    resolved.credentials.describe(),
                    t.host,
                    t.port,
                    t.dbname,
                    t.user
                ),
            ),
            Err(e) => {
                line(out, false, "secret", &cause_chain(&e));
                ok = false;
            }
        }
    }
    let Some(client) = connect(config, &resolved, out).await else {
        return false;
    };
    match db::info::server_version(&client).await {
        Ok(v) => line(out, true, "database", &format!("PostgreSQL {v}")),
        Err(e) => {
            line(out, false, "database", &cause_chain(&e));
            ok = false;
        }
    }
    let latest = db::migrations::latest_version();
    match db::migrations::current_version(&client).await {
        Ok(v) if v == latest => line(out, true, "schema", &format!("version {v} (current)")),
        Ok(v) if v > latest => line(
            out,
            true,
            "schema",
            &format!("version {v}, newer than this binary's {latest}"),
        ),
        Ok(v) => {
            line(
                out,
                false,
                "schema",
                &format!("version {v}, this binary expects {latest}: run `itemsd migrate`"),
            );
            ok = false;
        }
        Err(e) => {
            line(out, false, "schema", &cause_chain(&e));
            ok = false;
        }
    }
    line(
        out,
        true,
        "pool",
        &format!(
            "min {} max {} connect timeout {}s statement timeout {}ms",
            config.db.pool_min,
            config.db.pool_max,
            config.db.connect_timeout.as_secs(),
            config.db.statement_timeout.as_millis()
        ),
    );
    ok
}

/// Applies pending migrations and prints what it did; returns whether it succeeded.
pub async fn migrate(config: &Config, out: &mut impl Write) -> bool {
    let Some(resolved) = resolved(config, DbLogin::Owner, out).await else {
        return false;
    };
    let Some(mut client) = connect(config, &resolved, out).await else {
        return false;
    };
    let service_role = config.db.iam_user.as_deref();
    match db::migrations::migrate(&mut client, service_role).await {
        Ok(report) if report.applied.is_empty() => line(
            out,
            true,
            "migrate",
            &format!("schema already at version {}", report.version),
        ),
        Ok(report) => line(
            out,
            true,
            "migrate",
            &format!(
                "applied {:?}; schema at version {}",
                report.applied, report.version
            ),
        ),
        Err(e) => {
            line(out, false, "migrate", &cause_chain(&e));
            return false;
        }
    }
    if let Some(role) = service_role {
        line(
            out,
            true,
            "role",
            &format!("{role}: logs in with IAM tokens; may read and write items, nothing else"),
        );
    }
    true
}
