//! The `items` table. Statements are prepared once per connection and cached.

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

/// Newest first; `id` breaks ties between items created in the same microsecond.
pub async fn list(conn: &Object, page: Page) -> Result<Vec<Item>, DbError> {
    let stmt = conn
        .prepare_cached(concat!(
            "SELECT ",
            columns!(),
            " FROM items ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
        ))
        .await?;
    let rows = conn.query(&stmt, &[&page.limit, &page.offset]).await?;
    rows.iter().map(item).collect()
}

pub async fn create(conn: &Object, new: &NewItem) -> Result<Item, DbError> {
    let stmt = conn
        .prepare_cached(concat!(
            "INSERT INTO items (name, description, value) VALUES ($1, $2, $3) RETURNING ",
            columns!()
        ))
        .await?;
    let row = conn
        .query_one(&stmt, &[&new.name, &new.description, &new.value])
        .await?;
    item(&row)
}

pub async fn get(conn: &Object, id: i32) -> Result<Option<Item>, DbError> {
    let stmt = conn
        .prepare_cached(concat!("SELECT ", columns!(), " FROM items WHERE id = $1"))
        .await?;
    conn.query_opt(&stmt, &[&id])
        .await?
        .as_ref()
        .map(item)
        .transpose()
}

/// Returns whether an item was deleted.
pub async fn delete(conn: &Object, id: i32) -> Result<bool, DbError> {
    let stmt = conn
        .prepare_cached("DELETE FROM items WHERE id = $1")
        .await?;
    Ok(conn.execute(&stmt, &[&id]).await? > 0)
}
