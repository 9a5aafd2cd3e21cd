//! What `GET /db` and `itemsd check` report about the database.

use tokio_postgres::Client;

use super::DbError;

#[derive(Debug, Clone)]
pub struct DbInfo {
    /// First line of `version()`, as the original reported it.
    pub version: String,
    pub tables_count: i64,
    pub items_count: i64,
    pub schema_version: i32,
}

/// One round trip for everything; fails when the schema is not there yet.
pub async fn read(client: &Client) -> Result<DbInfo, DbError> {
    let row = client
        .query_one(
            "SELECT version(), \
               (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'), \
               (SELECT count(*) FROM items), \
               (SELECT coalesce(max(version), 0) FROM schema_migrations)",
            &[],
        )
        .await?;
    let version: String = row.try_get(0)?;
    Ok(DbInfo {
        version: version.lines().next().unwrap_or_default().to_owned(),
        tables_count: row.try_get(1)?,
        items_count: row.try_get(2)?,
        schema_version: row.try_get(3)?,
    })
}

/// The server's version alone: works before any migration ran.
pub async fn server_version(client: &Client) -> Result<String, DbError> {
    let row = client.query_one("SHOW server_version", &[]).await?;
    Ok(row.try_get(0)?)
}
