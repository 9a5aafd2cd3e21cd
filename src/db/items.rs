//! The `items` table. Statements are prepared once per connection and cached.

use futures_util::TryStreamExt;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use crate::domain::{Item, NewItem, Page};

use super::{DbError, Object};

/// The columns of [`Item`], in its field order; a macro so each statement is one literal,
/// looked up in the statement cache without building its text per request.
macro_rules! columns {
    () => {
        "id, name, description, value, created_at, updated_at"
    };
}

fn item(row: &Row) -> Result<Item, DbError> {
    Ok(Item {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        description: row.try_get(2)?,
        value: row.try_get(3)?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}

/// Runs one statement: prepared once per connection and cached, or, behind RDS Proxy, unnamed
/// (parsed with every call: a named statement would pin the proxy's session). The parameter
/// types are given either way, so both paths run the same statement.
async fn rows(
    conn: &Object,
    sql: &'static str,
    types: &'static [Type],
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, DbError> {
    if conn.unnamed_statements {
        let typed = params.iter().copied().zip(types.iter().cloned());
        return Ok(conn
            .query_typed_raw(sql, typed)
            .await?
            .try_collect()
            .await?);
    }
    let stmt = conn.prepare_typed_cached(sql, types).await?;
    Ok(conn.query(&stmt, params).await?)
}

/// Newest first; `id` breaks ties between items created in the same microsecond.
pub async fn list(conn: &Object, page: Page) -> Result<Vec<Item>, DbError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM items ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
    );
    rows(
        conn,
        sql,
        &[Type::INT8, Type::INT8],
        &[&page.limit, &page.offset],
    )
    .await?
    .iter()
    .map(item)
    .collect()
}

pub async fn create(conn: &Object, new: &NewItem) -> Result<Item, DbError> {
    let sql = concat!(
        "INSERT INTO items (name, description, value) VALUES ($1, $2, $3) RETURNING ",
        columns!()
    );
    let rows = rows(
        conn,
        sql,
        &[Type::VARCHAR, Type::TEXT, Type::VARCHAR],
        &[&new.name, &new.description, &new.value],
    )
    .await?;
    match rows.first() {
        Some(row) => item(row),
        None => Err(DbError::Schema(
            "INSERT ... RETURNING returned no row".into(),
        )),
    }
}

pub async fn get(conn: &Object, id: i32) -> Result<Option<Item>, DbError> {
    let sql = concat!("SELECT ", columns!(), " FROM items WHERE id = $1");
    rows(conn, sql, &[Type::INT4], &[&id])
        .await?
        .first()
        .map(item)
        .transpose()
}

/// Returns whether an item was deleted.
pub async fn delete(conn: &Object, id: i32) -> Result<bool, DbError> {
    let sql = "DELETE FROM items WHERE id = $1 RETURNING id";
    Ok(!rows(conn, sql, &[Type::INT4], &[&id]).await?.is_empty())
}
