//! `/api/items` and `/api/items/{id}`.

use http::{Request, StatusCode};
use hyper::body::Incoming;

use super::error::ApiError;
use super::response::{self, Resp};
use super::{body, State};
use crate::db;
use crate::domain::{Item, ItemRef, NewItem, Page};

pub async fn list(state: &State, query: Option<&str>) -> Result<Resp, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let page = Page::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let items = state
        .db(async |conn| db::items::list(conn, page).await)
        .await?;
    Ok(response::json_text(StatusCode::OK, list_body(&items, page)))
}

/// `{"items":[...],"count":N,"limit":L,"offset":O}`, the original's list shape.
fn list_body(items: &[Item], page: Page) -> String {
    let mut body = String::with_capacity(64 + items.len() * response::ITEM_JSON_BYTES);
    body.push_str("{\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        response::push_item(&mut body, item);
    }
    let mut digits = itoa::Buffer::new();
    body.push_str("],\"count\":");
    body.push_str(digits.format(items.len()));
    body.push_str(",\"limit\":");
    body.push_str(digits.format(page.limit));
    body.push_str(",\"offset\":");
    body.push_str(digits.format(page.offset));
    body.push('}');
    body
}

/// `{"message":"Item created successfully","item":{...}}`, the original's answer to a create.
fn created_body(item: &Item) -> String {
    let mut body = String::with_capacity(64 + response::ITEM_JSON_BYTES);
    body.push_str("{\"message\":\"Item created successfully\",\"item\":");
    response::push_item(&mut body, item);
    body.push('}');
    body
}

/// One item, alone.
fn item_body(item: &Item) -> String {
    let mut body = String::with_capacity(response::ITEM_JSON_BYTES);
    response::push_item(&mut body, item);
    body
}

pub async fn create(state: &State, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let json = body::read_json(req, state.body_timeout).await?;
    let new = NewItem::from_json(&json)?;
    let item = state
        .db(async |conn| db::items::create(conn, &new).await)
        .await?;
    Ok(response::json_text(
        StatusCode::CREATED,
        created_body(&item),
    ))
}

fn not_found() -> ApiError {
    ApiError::not_found("item not found")
}

pub async fn get(state: &State, id: ItemRef) -> Result<Resp, ApiError> {
    let ItemRef::Id(id) = id else {
        return Err(not_found());
    };
    let item = state
        .db(async |conn| db::items::get(conn, id).await)
        .await?
        .ok_or_else(not_found)?;
    Ok(response::json_text(StatusCode::OK, item_body(&item)))
}

pub async fn delete(state: &State, id: ItemRef) -> Result<Resp, ApiError> {
    let ItemRef::Id(id) = id else {
        return Err(not_found());
    };
    let deleted = state
        .db(async |conn| db::items::delete(conn, id).await)
        .await?;
    if deleted {
        Ok(response::empty(StatusCode::NO_CONTENT))
    } else {
        Err(not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn time(micros: i64) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 2, 29)
            .and_then(|d| d.and_hms_opt(23, 59, 58))
            .map(|t| t + chrono::Duration::microseconds(micros))
            .expect("a valid time")
    }

    /// What serde_json made of the original's item struct, written out.
    fn expected(item: &Item) -> Value {
        let iso = |t: &chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
        json!({
            "id": item.id,
            "name": item.name,
            "description": item.description,
            "value": item.value,
            "created_at": item.created_at.as_ref().map(iso),
            "updated_at": item.updated_at.as_ref().map(iso),
        })
    }

    fn parse(body: &str) -> Value {
        serde_json::from_str(body).expect("the body is JSON")
    }

    proptest! {
        #[test]
        fn any_item_reads_back_as_the_original_rendered_it(
            id in any::<i32>(),
            name in any::<String>(),
            description in proptest::option::of(any::<String>()),
            value in proptest::option::of("[ -~\\\\\"\\n\\t]{0,40}"),
            created in proptest::option::of(0i64..10_000_000),
            updated in proptest::option::of(0i64..10_000_000),
        ) {
            let item = Item {
                id, name, description, value,
                created_at: created.map(time),
                updated_at: updated.map(time),
            };
            prop_assert_eq!(parse(&item_body(&item)), expected(&item));
        }
    }

    #[test]
    fn list_and_created_bodies_have_the_original_shape() {
        let items = vec![
            Item {
                id: 1,
                name: "a \"quoted\" name".into(),
                description: None,
                value: Some("12.50".into()),
                created_at: Some(time(0)),
                updated_at: None,
            },
            Item {
                id: 2,
                name: "second".into(),
                description: Some("line\nbreak".into()),
                value: None,
                created_at: Some(time(1)),
                updated_at: Some(time(2)),
            },
        ];
        let page = Page {
            limit: 10,
            offset: 20,
        };
        assert_eq!(
            parse(&list_body(&items, page)),
            json!({
                "items": [expected(&items[0]), expected(&items[1])],
                "count": 2,
                "limit": 10,
                "offset": 20,
            })
        );
        assert_eq!(
            parse(&list_body(&[], page)),
            json!({"items": [], "count": 0, "limit": 10, "offset": 20})
        );
        assert_eq!(
            parse(&created_body(&items[1])),
            json!({"message": "Item created successfully", "item": expected(&items[1])})
        );
    }
}
