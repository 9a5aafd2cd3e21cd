//! Reading a JSON request body within limits: media type, size (refused before buffering when
//! `Content-Length` says so, and cut off while reading when it does not), time, syntax.

use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::error::ApiError;

/// The largest request body itemsd reads: an item is at most ~11k characters of text.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn is_json(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Reads and parses the body of `req` as JSON.
pub async fn read_json(
    req: Request<Incoming>,
    timeout: Duration,
) -> Result<serde_json::Value, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !is_json(content_type) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        )
        .closing());
    }
    // A compressed body would be parsed as if it were plain JSON; refuse what is not decoded.
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or_default().trim().to_ascii_lowercase());
    if encoding.is_some_and(|e| e != "identity") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Encoding is not supported: send the body uncompressed",
        )
        .closing());
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = read_limited(req.into_body(), timeout).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body must be at most {MAX_BODY_BYTES} bytes"),
    )
    .closing()
}

async fn read_limited(body: Incoming, timeout: Duration) -> Result<Bytes, ApiError> {
    let collect = Limited::new(body, MAX_BODY_BYTES).collect();
    match tokio::time::timeout(timeout, collect).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request body not received in time",
        )
        .closing()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(ApiError::bad_request("request body could not be read")
            .closing()
            .with_cause(BodyError(e.to_string()))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("reading the request body: {0}")]
struct BodyError(String);

#[cfg(test)]
mod tests {
    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(super::is_json(ok), "{ok}");
        }
        for bad in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "json",
        ] {
            assert!(!super::is_json(bad), "{bad}");
        }
    }
}
