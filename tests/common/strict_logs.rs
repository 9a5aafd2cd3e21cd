//! A recording proxy in front of moto that holds every PutLogEvents call to CloudWatch Logs'
//! real limits (moto does not: it takes 10,001 events, 2 MB batches and spans over 24 hours),
//! answering a violation as the service would, with 400 InvalidParameterException. It can
//! also go down, dropping every connection, to stand for an outage.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::stand_in::{upstream, StandIn, Upstream};

const MAX_EVENTS: usize = 10_000;
const MAX_BYTES: usize = 1_048_576;
const OVERHEAD: usize = 26;
const MAX_EVENT_BYTES: usize = 262_144;
const MAX_SPAN_MS: i64 = 24 * 3600 * 1000;

#[derive(Default)]
pub struct Record {
    /// (events, bytes) of each accepted PutLogEvents call.
    pub batches: Vec<(usize, usize)>,
    pub violations: Vec<String>,
}

pub struct StrictLogs {
    pub record: Arc<Mutex<Record>>,
    stand_in: StandIn,
}

impl StrictLogs {
    pub async fn start(moto: SocketAddr) -> Self {
        let record = Arc::new(Mutex::new(Record::default()));
        let (client, rec) = (upstream(), Arc::clone(&record));
        let stand_in = StandIn::serve(move |req| {
            let (client, rec) = (client.clone(), Arc::clone(&rec));
            async move { handle(client, moto, rec, req).await }
        })
        .await;
        Self { record, stand_in }
    }

    pub fn endpoint(&self) -> String {
        self.stand_in.endpoint()
    }

    /// Down, every new connection dies at once: an outage.
    pub fn set_down(&self, down: bool) {
        self.stand_in.set_down(down);
    }
}

fn violation(body: &serde_json::Value) -> Option<String> {
    let events = body["logEvents"].as_array()?;
    if events.len() > MAX_EVENTS {
        return Some(format!("{} events > {MAX_EVENTS}", events.len()));
    }
    let mut bytes = 0;
    let mut last = i64::MIN;
    let first = events.first().and_then(|e| e["timestamp"].as_i64());
    for e in events {
        let size = e["message"].as_str().map_or(0, str::len) + OVERHEAD;
        if size > MAX_EVENT_BYTES {
            return Some(format!("event of {size} bytes > {MAX_EVENT_BYTES}"));
        }
        bytes += size;
        let t = e["timestamp"].as_i64().unwrap_or(0);
        if t < last {
            return Some("events not in chronological order".into());
        }
        last = t;
        if first.is_some_and(|f| t - f > MAX_SPAN_MS) {
            return Some("batch spans more than 24 hours".into());
        }
    }
    if bytes > MAX_BYTES {
        return Some(format!("{bytes} bytes > {MAX_BYTES}"));
    }
    None
}

async fn handle(
    client: Upstream,
    upstream: SocketAddr,
    record: Arc<Mutex<Record>>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target.ends_with("PutLogEvents") {
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if let Some(v) = violation(&json) {
            record.lock().expect("record").violations.push(v.clone());
            let mut resp = Response::new(Full::new(Bytes::from(
                serde_json::json!({"__type": "InvalidParameterException", "message": v})
                    .to_string(),
            )));
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            return resp;
        }
        let events = json["logEvents"].as_array().map_or(0, Vec::len);
        let bytes = json["logEvents"].as_array().map_or(0, |a| {
            a.iter()
                .map(|e| e["message"].as_str().map_or(0, str::len) + OVERHEAD)
                .sum()
        });
        record.lock().expect("record").batches.push((events, bytes));
    }
    let mut forward = Request::builder().method(parts.method).uri(format!(
        "http://{upstream}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    ));
    for (k, v) in &parts.headers {
        forward = forward.header(k, v);
    }
    let Ok(forward) = forward.body(Full::new(body)) else {
        return Response::new(Full::new(Bytes::new()));
    };
    match client.request(forward).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Response::from_parts(parts, Full::new(body))
        }
        Err(_) => {
            let mut resp = Response::new(Full::new(Bytes::new()));
            *resp.status_mut() = StatusCode::BAD_GATEWAY;
            resp
        }
    }
}
