//! A steady load generator: `workers` keep-alive HTTP/1.1 connections, each sending one request
//! at a time at a fixed pace, recording every outcome. Strict on purpose: a request that fails
//! for any reason (a reset, a connection closed under it, no answer, a refused connect) is
//! recorded as a failure, never retried.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longer than any request should take: a request past it is recorded as hung.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What one worker sends as its `n`th request: method, path and JSON body.
pub type Plan = fn(worker: usize, n: u64) -> (&'static str, String, String);

/// A GET of the newest items, and a POST every fourth request.
pub fn mixed(worker: usize, n: u64) -> (&'static str, String, String) {
    if n % 4 == 3 {
        let body = format!(r#"{{"name":"load {worker}-{n}","value":"{n}"}}"#);
        ("POST", "/api/items".into(), body)
    } else {
        ("GET", "/api/items?limit=5".into(), String::new())
    }
}

/// Only POSTs, each with a name unique to the run.
pub fn creates(worker: usize, n: u64) -> (&'static str, String, String) {
    let body = format!(r#"{{"name":"load {worker}-{n}"}}"#);
    ("POST", "/api/items".into(), body)
}

#[derive(Debug, Clone)]
pub struct Outcome {
    /// When the request was sent.
    pub at: Instant,
    pub latency: Duration,
    pub method: &'static str,
    /// Status and body, or what went wrong on the connection.
    pub result: Result<(u16, Bytes), String>,
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        self.result.as_ref().ok().map(|(s, _)| *s)
    }

    /// Answered with a 2xx.
    pub fn succeeded(&self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s))
    }

    pub fn json(&self) -> serde_json::Value {
        let (_, body) = self.result.as_ref().expect("a response");
        serde_json::from_slice(body).unwrap_or(serde_json::Value::Null)
    }
}

pub struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `workers` connections to `addr`, each sending a request every `pace`.
    pub fn start(addr: SocketAddr, workers: usize, pace: Duration, plan: Plan) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let workers = (0..workers)
            .map(|w| {
                let (stop, answered, outcomes) = (stop.clone(), answered.clone(), outcomes.clone());
                tokio::spawn(async move {
                    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
                    let mut tick = tokio::time::interval(pace);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        tick.tick().await;
                        let (method, path, body) = plan(w, n);
                        n += 1;
                        let at = Instant::now();
                        let result = tokio::time::timeout(
                            REQUEST_TIMEOUT,
                            exchange(addr, &mut conn, method, &path, body),
                        )
                        .await
                        .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_TIMEOUT:?}")));
                        if result.is_err() {
                            conn = None;
                        } else {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        let outcome = Outcome {
                            at,
                            latency: at.elapsed(),
                            method,
                            result,
                        };
                        outcomes.lock().expect("outcomes").push(outcome);
                    }
                })
            })
            .collect();
        Self {
            stop,
            answered,
            outcomes,
            workers,
        }
    }

    /// Requests answered (any status) so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Waits until `more` further requests have been answered, so a phase of a test is known to
    /// have carried load.
    pub async fn wait_answered(&self, more: u64, within: Duration) {
        let target = self.answered() + more;
        let what = format!("the load got {more} more answers");
        super::eventually_ok(&what, within, || async {
            match self.answered() {
                n if n >= target => Ok(()),
                n => Err(format!("{} of them", more - (target - n))),
            }
        })
        .await;
    }

    /// Stops every worker after its request in flight, returning every outcome in send order.
    pub async fn stop(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.await.expect("load worker");
        }
        let mut outcomes = std::mem::take(&mut *self.outcomes.lock().expect("outcomes"));
        outcomes.sort_by_key(|o| o.at);
        outcomes
    }
}

/// One request on the worker's connection, opening one first if it has none.
async fn exchange(
    addr: SocketAddr,
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    method: &'static str,
    path: &str,
    body: String,
) -> Result<(u16, Bytes), String> {
    let sender = match conn {
        Some(sender) => sender,
        None => {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(connection);
            conn.insert(sender)
        }
    };
    sender
        .ready()
        .await
        .map_err(|e| format!("connection closed while idle: {e}"))?;
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{method} {path}: {e:?}"))?;
    let closes = response
        .headers()
        .get("connection")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{method} {path}: body: {e}"))?
        .to_bytes();
    if closes {
        // The server said this connection ends here; the next request opens a new one, as
        // every HTTP client does.
        *conn = None;
    }
    Ok((status, body))
}

/// A one-line-per-kind account of what went wrong, for assertion messages.
pub fn failures(outcomes: &[Outcome], ok: impl Fn(&Outcome) -> bool) -> Vec<String> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for o in outcomes.iter().filter(|o| !ok(o)) {
        let kind = match &o.result {
            Ok((status, body)) => format!(
                "{} -> {status} {}",
                o.method,
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
            Err(e) => format!("{} -> {e}", o.method),
        };
        match seen.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => seen.push((kind, 1)),
        }
    }
    seen.into_iter()
        .map(|(k, n)| format!("{n} × {k}"))
        .collect()
}
