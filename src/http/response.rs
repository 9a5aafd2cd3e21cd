//! Building responses: JSON bodies, the error shape, the headers every response carries.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use super::error::ApiError;
use crate::domain::Item;
use crate::telemetry::json::push_json_str;
use crate::timefmt::{push_iso8601, push_now, Fraction};

pub type Resp = Response<Full<Bytes>>;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

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
    // `Bytes` takes a vector whose length is its capacity as it is; any other needs a shared
    // header of its own, one more allocation a response. Shrinking the bodies here (longer than
    // half their capacity, as vectors grow) leaves them where they are.
    let mut resp = Response::new(Full::new(Bytes::from(body.into_boxed_slice())));
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

/// Appends an item as the original app rendered it: naive timestamps in ISO 8601, absent
/// values as `null`. Written by hand with the log's escaper rather than serde_json's: on
/// `GET /api/items?limit=10`, escaping the items' strings one byte at a time was a sixth of
/// itemsd's instructions (callgrind, bench/count-instructions.sh).
pub fn push_item(out: &mut String, item: &Item) {
    out.push_str("{\"id\":");
    out.push_str(itoa::Buffer::new().format(item.id));
    out.push_str(",\"name\":");
    push_json_str(out, &item.name);
    out.push_str(",\"description\":");
    push_optional_str(out, item.description.as_deref());
    out.push_str(",\"value\":");
    push_optional_str(out, item.value.as_deref());
    out.push_str(",\"created_at\":");
    push_optional_time(out, item.created_at.as_ref());
    out.push_str(",\"updated_at\":");
    push_optional_time(out, item.updated_at.as_ref());
    out.push('}');
}

/// Room for one item of typical size, so the body rarely grows while it is written.
pub const ITEM_JSON_BYTES: usize = 192;

fn push_optional_str(out: &mut String, value: Option<&str>) {
    match value {
        Some(v) => push_json_str(out, v),
        None => out.push_str("null"),
    }
}

fn push_optional_time(out: &mut String, value: Option<&chrono::NaiveDateTime>) {
    match value {
        Some(t) => {
            out.push('"');
            push_iso8601(out, t, Fraction::Micros, false);
            out.push('"');
        }
        None => out.push_str("null"),
    }
}

/// A JSON body the handler wrote itself.
pub fn json_text(status: StatusCode, body: String) -> Resp {
    with_body(status, JSON, body.into_bytes())
}

/// Appends now, as the original formatted `timestamp` fields (without the quotes).
pub fn push_timestamp(out: &mut String) {
    push_now(out, Fraction::Micros);
}
