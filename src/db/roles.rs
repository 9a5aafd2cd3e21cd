//! The serving role: what `itemsd serve` may do in the database when it logs in with IAM
//! tokens (`DB_IAM_USER`). Reading and writing items, reading the schema version, nothing
//! more: no DDL, no other table, no role management. The schema's owner (the RDS master user)
//! applies migrations and runs this; the serving role never could.

use tokio_postgres::Client;

use super::DbError;

/// The role RDS grants IAM logins through: membership makes RDS check a token instead of a
/// password. Absent on a plain PostgreSQL (the tests), where the grant is left out.
const RDS_IAM_ROLE: &str = "rds_iam";

/// Makes `role` (a validated plain identifier: `config::db_iam_user`) if it is missing and
/// grants it exactly what serving needs. Idempotent: run on every `itemsd migrate`.
pub async fn provision(client: &Client, role: &str) -> Result<(), DbError> {
    // `role` is quoted as an identifier; its shape is checked when the configuration is read.
    let ident = format!("\"{role}\"");
    if !role_exists(client, role).await? {
        client
            .batch_execute(&format!("CREATE ROLE {ident} LOGIN"))
            .await?;
    }
    if role_exists(client, RDS_IAM_ROLE).await? {
        client
            .batch_execute(&format!("GRANT {RDS_IAM_ROLE} TO {ident}"))
            .await?;
    }
    client
        .batch_execute(&format!(
            "GRANT USAGE ON SCHEMA public TO {ident}; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON items TO {ident}; \
             GRANT USAGE, SELECT ON SEQUENCE items_id_seq TO {ident}; \
             GRANT SELECT ON schema_migrations TO {ident}"
        ))
        .await?;
    Ok(())
}

/// Whether PostgreSQL has a role of that name.
async fn role_exists(client: &Client, role: &str) -> Result<bool, DbError> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)",
            &[&role],
        )
        .await?
        .try_get(0)?)
}
