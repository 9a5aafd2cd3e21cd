//! `/api/items` and `/api/items/{id}`.

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;

use super::error::ApiError;
use super::response::{self, ItemJson, Resp};
use super::{body, State};
use crate::db;
use crate::domain::{ItemRef, NewItem, Page};

#[derive(Serialize)]
struct ListBody<'a> {
    items: Vec<ItemJson<'a>>,
    count: usize,
    limit: i64,
    offset: i64,
}

pub async fn list(state: &State, query: Option<&str>) -> Result<Resp, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let page = Page::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let items = state
        .db(async |conn| db::items::list(conn, page).await)
        .await?;
    Ok(response::json(
        StatusCode::OK,
        &ListBody {
            items: items.iter().map(ItemJson::from).collect(),
            count: items.len(),
            limit: page.limit,
            offset: page.offset,
        },
    ))
}

#[derive(Serialize)]
struct CreatedBody<'a> {
    message: &'static str,
    item: ItemJson<'a>,
}

pub async fn create(state: &State, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let json = body::read_json(req, state.body_timeout).await?;
    let new = NewItem::from_json(&json)?;
    let item = state
        .db(async |conn| db::items::create(conn, &new).await)
        .await?;
    Ok(response::json(
        StatusCode::CREATED,
        &CreatedBody {
            message: "Item created successfully",
            item: ItemJson::from(&item),
        },
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
    Ok(response::json(StatusCode::OK, &ItemJson::from(&item)))
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
