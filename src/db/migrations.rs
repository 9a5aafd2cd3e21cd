//! Versioned schema migrations, embedded in the binary and applied under an advisory lock so
//! that instances booting together do not race each other.

use tokio_postgres::Client;

use super::DbError;

/// Key of the session advisory lock that serialises migrations across instances ("itemsd" in
/// ASCII, so it is recognisable in `pg_locks`).
const MIGRATION_LOCK_KEY: i64 = 0x6974_656d_7364;

/// A migration's own statement timeout, lifted above the connection default: building an index
/// on a large table may take minutes, and only one instance does it.
const MIGRATION_STATEMENT_TIMEOUT: &str = "10min";
/// The client-side bound on a whole migration run: its statement timeout and a margin for the
/// advisory lock and the round trips around it.
pub const MIGRATION_DEADLINE: std::time::Duration = std::time::Duration::from_secs(11 * 60);

pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    sql: &'static str,
}

/// Every migration, in order. Never edit one that has shipped: add a new one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "create_items",
        sql: include_str!("migrations/0001_create_items.sql"),
    },
    Migration {
        version: 2,
        name: "items_updated_at_trigger",
        sql: include_str!("migrations/0002_items_updated_at_trigger.sql"),
    },
];

/// The schema version this binary expects.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// What a run of [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<i32>,
    pub version: i32,
}

/// Applies every pending migration, each in its own transaction, then (when given) makes the
/// serving role and grants it what serving needs, under the same lock: instances booting
/// together would otherwise race to create it.
pub async fn migrate(
    client: &mut Client,
    service_role: Option<&str>,
) -> Result<MigrationReport, DbError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let mut result = apply_pending(client).await;
    if let (Ok(_), Some(role)) = (&result, service_role) {
        if let Err(e) = super::roles::provision(client, role).await {
            result = Err(e);
        }
    }
    // On a broken connection the server frees the lock with the session anyway.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    result
}

async fn apply_pending(client: &mut Client) -> Result<MigrationReport, DbError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
                version INTEGER PRIMARY KEY, \
                name TEXT NOT NULL, \
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await?;
    let current = current_version(client).await?;
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let tx = client.transaction().await?;
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = '{MIGRATION_STATEMENT_TIMEOUT}'"
        ))
        .await?;
        tx.batch_execute(m.sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await?;
        tx.commit().await?;
        applied.push(m.version);
    }
    let version = applied.last().copied().unwrap_or(current);
    Ok(MigrationReport { applied, version })
}

/// The highest applied version, 0 when none (or no tracking table yet).
pub async fn current_version(client: &Client) -> Result<i32, DbError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_strictly_increasing() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
        assert_eq!(latest_version(), *versions.last().expect("at least one"));
    }
}
