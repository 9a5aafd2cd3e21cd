//! Building responses: JSON bodies, the error shape, the headers every response carries.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use super::error::ApiError;
use crate::domain::Item;
use crate::timefmt::{iso8601, push_iso8601, Fraction};

pub type Resp = Response<Full<Bytes>>;

pub const JSON: HeaderValue = HeaderValue::from_static("application/json");

pub fn json(status: StatusCode, body: &impl Serialize) -> Resp {
    match serde_json::to_vec(body) {
        Ok(bytes) => with_body(status, JSON, bytes),
        // Serialising our own plain structs cannot fail; answer honestly if it ever does.
        Err(_) => with_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            JSON,
            br#"{"error":"Internal Server Error","message":"response could not be encoded","status":500}"#.to_vec(),
        ),
    }
}

pub fn with_body(status: StatusCode, content_type: HeaderValue, body: Vec<u8>) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    resp
}

pub fn empty(status: StatusCode) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

pub fn error(err: &ApiError) -> Resp {
    let mut resp = with_body(err.status, JSON, err.body());
    let headers = resp.headers_mut();
    if let Some(allow) = err.allow {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    if let Some(secs) = err.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if err.close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// An item as the original app rendered it: naive timestamps in ISO 8601.
#[derive(Serialize)]
pub struct ItemJson<'a> {
    pub id: i32,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub value: Option<&'a str>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl<'a> From<&'a Item> for ItemJson<'a> {
    fn from(item: &'a Item) -> Self {
        let iso = |t: &chrono::NaiveDateTime| iso8601(t, Fraction::Micros, false);
        Self {
            id: item.id,
            name: &item.name,
            description: item.description.as_deref(),
            value: item.value.as_deref(),
            created_at: item.created_at.as_ref().map(iso),
            updated_at: item.updated_at.as_ref().map(iso),
        }
    }
}

/// Appends now, as the original formatted `timestamp` fields (without the quotes).
pub fn push_timestamp(out: &mut String) {
    push_iso8601(out, &chrono::Utc::now().naive_utc(), Fraction::Micros, true);
}
