//! Maps a request to its route template and handler, and wraps every request with what all of
//! them share: the concurrency limit, the three response headers, metrics and the access log.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use hyper::body::Incoming;

use super::error::ApiError;
use super::response::{self, Resp};
use super::{info, items, metrics, State};
use crate::domain::ItemRef;
use crate::health::Phase;
use crate::telemetry::log::{Fields, Level, Message, Plain};
use crate::telemetry::metrics::method_index;

/// Longest path and query accepted; longer is 414. Real clients send far less.
pub const MAX_URI_BYTES: usize = 4096;
/// Longest client-supplied `X-Request-ID` echoed back; longer ones are replaced.
const MAX_REQUEST_ID_BYTES: usize = 128;

// The three headers every response carries, as constants: a name given as a string is parsed
// and validated on every insert, which the profile showed at a twentieth of a `/health` request.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_RESPONSE_TIME: HeaderName = HeaderName::from_static("x-response-time");
const X_INSTANCE_ID: HeaderName = HeaderName::from_static("x-instance-id");

/// Route templates, the only values the `route` metric label takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Index,
    Health,
    Db,
    Items,
    Item,
    Metrics,
    Status,
    Unmatched,
}

/// `:id` rather than OpenAPI's `{id}`: braces inside label values trip naive exposition
/// parsers (prometheus-parse among them), though the format allows them.
pub const ROUTE_LABELS: &[&str] = &[
    "/",
    "/health",
    "/db",
    "/api/items",
    "/api/items/:id",
    "/metrics",
    "/status",
    "unmatched",
];

impl Route {
    fn index(self) -> usize {
        self as usize
    }

    /// The methods a route accepts, as an `Allow` header value.
    fn allow(self) -> &'static str {
        match self {
            Self::Items => "GET, HEAD, POST",
            Self::Item => "GET, HEAD, DELETE",
            _ => "GET, HEAD",
        }
    }

    fn resolve(path: &str) -> (Self, Option<&str>) {
        match path {
            "/" => (Self::Index, None),
            "/health" => (Self::Health, None),
            "/db" => (Self::Db, None),
            "/api/items" => (Self::Items, None),
            "/metrics" => (Self::Metrics, None),
            "/status" => (Self::Status, None),
            _ => match path.strip_prefix("/api/items/") {
                Some(id) if !id.is_empty() && !id.contains('/') => (Self::Item, Some(id)),
                _ => (Self::Unmatched, None),
            },
        }
    }
}

/// The access log's fields that are fixed for the process, rendered once at start-up.
pub struct AccessLogFields {
    /// `route`, for each route by its index.
    routes: Vec<Fields>,
    /// `instance_id`.
    instance: Fields,
    /// The level and message of every line.
    completed: Message,
}

impl AccessLogFields {
    pub fn new(instance_id: &str) -> Self {
        Self {
            routes: ROUTE_LABELS
                .iter()
                .map(|label| Fields::default().with("route", *label))
                .collect(),
            instance: Fields::default().with("instance_id", instance_id),
            completed: Message::new(Level::Info, "request completed"),
        }
    }

    fn route(&self, route: Route) -> &Fields {
        // One a label, in the routes' order (`routes_resolve_to_templates` checks the count).
        &self.routes[route.index()]
    }
}

/// Every (route, method) pair served, for the OpenAPI consistency test.
pub fn served_operations() -> Vec<(&'static str, &'static str)> {
    let mut ops = Vec::new();
    for (route, label) in [
        (Route::Index, "/"),
        (Route::Health, "/health"),
        (Route::Db, "/db"),
        (Route::Items, "/api/items"),
        (Route::Item, "/api/items/{id}"),
        (Route::Metrics, "/metrics"),
        (Route::Status, "/status"),
    ] {
        for method in route.allow().split(", ").filter(|m| *m != "HEAD") {
            ops.push((label, method));
        }
    }
    ops
}

/// Counts a request in flight, and logs it as abandoned if the client goes away before the
/// answer (hyper then drops the request's future, and no other code runs for it).
struct InFlight<'a> {
    state: &'a State,
    method: &'a Method,
    path: &'a str,
    request_id: &'a str,
    started: Instant,
    finished: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.state.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.finished {
            self.state
                .logger
                .info("request abandoned by the client")
                .field("method", self.method.as_str())
                .field("path", self.path)
                .field("request_id", self.request_id)
                .field("elapsed_ms", self.started.elapsed())
                .emit();
        }
    }
}

/// Answers one request; `from_this_host`: the peer is on this host (`/status` is only for it).
pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
    from_this_host: bool,
) -> Result<Resp, Infallible> {
    let started = Instant::now();
    let method = req.method().clone();
    // The request goes to the handler; a clone of its URI shares hyper's buffer rather than
    // copying the path into a string of its own.
    let uri = req.uri().clone();
    let path = uri.path();
    let (request_id, generated) = request_id(req.headers());
    // Both come from visible ASCII (checked or generated), so `to_str` cannot fail.
    let request_id_text = request_id.to_str().unwrap_or_default();
    let (route, _) = Route::resolve(path);

    // `/health` is exempt from the limit: a saturated instance is still alive, and failing the
    // load balancer's checks would have it replaced in the middle of a burst.
    let permit = match route {
        Route::Health => None,
        _ => Some(state.limiter.try_acquire()),
    };
    let result = match permit {
        Some(Err(_)) => {
            state
                .metrics
                .rejected_overload
                .fetch_add(1, Ordering::Relaxed);
            Err(ApiError::overloaded())
        }
        Some(Ok(_)) | None => {
            state.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
            let mut guard = InFlight {
                state: &state,
                method: &method,
                path,
                request_id: request_id_text,
                started,
                finished: false,
            };
            let result = dispatch(&state, route, req, from_this_host).await;
            guard.finished = true;
            result
        }
    };

    let mut resp = match result {
        Ok(resp) => resp,
        Err(err) => {
            state.log_error_cause(&err);
            response::error(&err)
        }
    };
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    state
        .metrics
        .record(route.index(), method_index(&method), status, elapsed);
    let record = state
        .logger
        .message(&state.access_log.completed)
        // A method is a token (RFC 9110 §9.1), which holds nothing JSON escapes.
        .field("method", Plain(method.as_str()))
        .field("path", path)
        .fields(state.access_log.route(route))
        .field("status", status)
        .field("response_time_ms", elapsed);
    // A generated id is hex digits and hyphens; a client's may hold a quote.
    let record = if generated {
        record.field("request_id", Plain(request_id_text))
    } else {
        record.field("request_id", request_id_text)
    };
    record.fields(&state.access_log.instance).emit();

    let headers = resp.headers_mut();
    // Moved in after the log line is written: a clone of a value just made is an allocation.
    headers.insert(X_REQUEST_ID, request_id);
    if let Ok(v) = response_time(elapsed) {
        headers.insert(X_RESPONSE_TIME, v);
    }
    headers.insert(X_INSTANCE_ID, state.instance_header.clone());
    if state.health.phase() == Phase::Draining {
        // From SIGTERM on, keep-alive clients move off this instance before its listener
        // closes; hyper closes the connection after this response.
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(resp)
}

async fn dispatch(
    state: &State,
    route: Route,
    req: Request<Incoming>,
    from_this_host: bool,
) -> Result<Resp, ApiError> {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the URL must be at most {MAX_URI_BYTES} bytes"),
        ));
    }
    if route == Route::Unmatched {
        return Err(ApiError::not_found("the requested URL was not found"));
    }
    let method = req.method().clone();
    let is_get = method == Method::GET || method == Method::HEAD;
    match (route, is_get, &method) {
        (Route::Index, true, _) => Ok(info::index(state)),
        (Route::Health, true, _) => Ok(info::health(state)),
        (Route::Db, true, _) => Ok(info::db(state).await),
        (Route::Status, true, _) => super::status::status(state, from_this_host),
        (Route::Metrics, true, _) => Ok(metrics::metrics(state)),
        (Route::Items, true, _) => items::list(state, req.uri().query()).await,
        (Route::Items, false, &Method::POST) => items::create(state, req).await,
        (Route::Item, _, m) if is_get || m == Method::DELETE => {
            let (_, raw_id) = Route::resolve(req.uri().path());
            // `/api/items/%31` is the same URL as `/api/items/1` (RFC 3986 §6.2.2.2).
            let raw_id = percent_encoding::percent_decode_str(raw_id.unwrap_or_default())
                .decode_utf8()
                .unwrap_or_default();
            let id = ItemRef::parse(&raw_id)?;
            if is_get {
                items::get(state, id).await
            } else {
                items::delete(state, id).await
            }
        }
        _ => Err(ApiError::method_not_allowed(route.allow())),
    }
}

/// `X-Response-Time`: milliseconds with two decimals, as `1.25ms`.
fn response_time(
    elapsed: std::time::Duration,
) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    let hundredths = u64::try_from((elapsed.as_micros() + 5) / 10).unwrap_or(u64::MAX);
    // Written on the stack: `HeaderValue` copies the text into a buffer of its own anyway, so
    // a `String` here was an allocation a response for nothing. At most 20 digits, the point,
    // two decimals and "ms".
    let mut text = [0u8; 25];
    let mut digits = itoa::Buffer::new();
    let whole = digits.format(hundredths / 100).as_bytes();
    let (head, tail) = text.split_at_mut(whole.len());
    head.copy_from_slice(whole);
    let frac = (hundredths % 100) as u8;
    tail[..5].copy_from_slice(&[b'.', b'0' + frac / 10, b'0' + frac % 10, b'm', b's']);
    HeaderValue::from_bytes(&text[..whole.len() + 5])
}

/// A fresh UUID v4, hyphenated, encoded straight into the header value (`to_string` goes
/// through `core::fmt`, three times the cost).
fn new_request_id() -> HeaderValue {
    let mut buf = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// The client's `X-Request-ID` when it is a sane token, a fresh UUID otherwise, and whether it
/// is the fresh one. As the header value itself: the client's shares the buffer hyper read it
/// into, and either is the response header and the log field without a string of its own.
fn request_id(headers: &HeaderMap) -> (HeaderValue, bool) {
    headers
        .get(&X_REQUEST_ID)
        .filter(|v| {
            let bytes = v.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= MAX_REQUEST_ID_BYTES
                && bytes.iter().all(u8::is_ascii_graphic)
        })
        .map_or_else(|| (new_request_id(), true), |v| (v.clone(), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_to_templates() {
        let cases = [
            ("/", Route::Index, None),
            ("/health", Route::Health, None),
            ("/api/items", Route::Items, None),
            ("/api/items/", Route::Unmatched, None),
            ("/api/items/7", Route::Item, Some("7")),
            ("/api/items/7/x", Route::Unmatched, None),
            ("/api/itemsx", Route::Unmatched, None),
            ("/metrics", Route::Metrics, None),
            ("/nope", Route::Unmatched, None),
        ];
        for (path, route, param) in cases {
            assert_eq!(Route::resolve(path), (route, param), "{path}");
        }
        assert_eq!(ROUTE_LABELS.len(), Route::Unmatched.index() + 1);
    }

    #[test]
    fn request_ids_are_echoed_only_when_sane() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), (HeaderValue::from_static("abc-123"), false));
        h.insert("x-request-id", HeaderValue::from_static("has space"));
        let (replaced, generated) = request_id(&h);
        assert_ne!(replaced, "has space");
        assert!(generated);
        let (fresh, generated) = request_id(&HeaderMap::new());
        assert_eq!(fresh.len(), 36);
        assert!(generated);
    }

    #[test]
    fn response_time_has_two_decimals() {
        use std::time::Duration;
        assert_eq!(
            response_time(Duration::from_micros(1_250)).unwrap(),
            "1.25ms"
        );
        assert_eq!(response_time(Duration::from_micros(31)).unwrap(), "0.03ms");
        assert_eq!(response_time(Duration::from_secs(2)).unwrap(), "2000.00ms");
        assert_eq!(response_time(Duration::ZERO).unwrap(), "0.00ms");
        assert_eq!(
            response_time(Duration::MAX).unwrap(),
            "184467440737095516.15ms",
            "the largest, saturated, still fits"
        );
    }
}
