//! The engineer's subcommands: `itemsd check` answers "what does this instance see?" and
//! `itemsd migrate` applies the schema. Both print for a person in an SSM shell, not for a
//! log pipeline.

use std::io::Write;

use tokio_postgres::NoTls;

use crate::config::Config;
use crate::db::{self, DbError};

/// Opens one connection outside any pool, with itemsd's connection settings.
async fn connect(config: &Config) -> Result<tokio_postgres::Client, DbError> {
    let (client, connection) = db::pool::pg_config(&config.db).connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn line(out: &mut impl Write, ok: bool, what: &str, detail: &str) {
    let _ = writeln!(
        out,
        "{:<5} {:<10} {}",
        if ok { "ok" } else { "FAIL" },
        what,
        detail
    );
}

fn describe_error(e: &DbError) -> String {
    crate::telemetry::log::cause_chain(e)
}

/// Prints the configuration and what the database says; returns whether everything passed.
pub async fn check(config: &Config, out: &mut impl Write) -> bool {
    let _ = writeln!(out, "configuration (secrets masked):");
    for (name, value) in config.describe() {
        let _ = writeln!(out, "  {name:<28} {value}");
    }
    let target = format!(
        "{}:{}/{} as {}",
        config.db.host, config.db.port, config.db.name, config.db.user
    );
    let client = match connect(config).await {
        Ok(c) => c,
        Err(e) => {
            line(
                out,
                false,
                "database",
                &format!("{target}: {}", describe_error(&e)),
            );
            return false;
        }
    };
    let mut ok = true;
    match db::info::server_version(&client).await {
        Ok(v) => line(out, true, "database", &format!("{target}: PostgreSQL {v}")),
        Err(e) => {
            line(out, false, "database", &describe_error(&e));
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
            line(out, false, "schema", &describe_error(&e));
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
    let mut client = match connect(config).await {
        Ok(c) => c,
        Err(e) => {
            line(out, false, "database", &describe_error(&e));
            return false;
        }
    };
    match db::migrations::migrate(&mut client).await {
        Ok(report) if report.applied.is_empty() => {
            line(
                out,
                true,
                "migrate",
                &format!("schema already at version {}", report.version),
            );
            true
        }
        Ok(report) => {
            line(
                out,
                true,
                "migrate",
                &format!(
                    "applied {:?}; schema at version {}",
                    report.applied, report.version
                ),
            );
            true
        }
        Err(e) => {
            line(out, false, "migrate", &describe_error(&e));
            false
        }
    }
}
