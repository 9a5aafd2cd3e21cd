//! A local IMDSv2 stand-in: a token from `PUT /latest/api/token`, required (401 without it) on
//! every `GET /latest/meta-data/...`, as on EC2.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use super::stand_in::{reply, Reply, StandIn};

const TOKEN: &str = "AQAEAtest-token==";

#[derive(Default)]
pub struct Counts {
    pub tokens: AtomicU64,
    pub answered: AtomicU64,
    pub unauthorized: AtomicU64,
}

pub struct Imds {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
}

impl Imds {
    pub async fn start(values: &[(&str, &str)]) -> Self {
        let values: Arc<HashMap<String, String>> = Arc::new(
            values
                .iter()
                .map(|(k, v)| (format!("/latest/meta-data/{k}"), v.to_string()))
                .collect(),
        );
        let counts = Arc::new(Counts::default());
        let served = Arc::clone(&counts);
        let stand_in = StandIn::serve(move |req: Request<Incoming>| {
            let answer = answer(&values, &served, &req);
            async move { answer }
        })
        .await;
        Self {
            addr: stand_in.addr,
            counts,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn answer(values: &HashMap<String, String>, counts: &Counts, req: &Request<Incoming>) -> Reply {
    let path = req.uri().path();
    if req.method() == Method::PUT && path == "/latest/api/token" {
        if req
            .headers()
            .get("x-aws-ec2-metadata-token-ttl-seconds")
            .is_none()
        {
            return reply(StatusCode::BAD_REQUEST, "");
        }
        counts.tokens.fetch_add(1, Ordering::Relaxed);
        let mut resp = reply(StatusCode::OK, TOKEN);
        resp.headers_mut().insert(
            "x-aws-ec2-metadata-token-ttl-seconds",
            http::HeaderValue::from_static("21600"),
        );
        return resp;
    }
    if req
        .headers()
        .get("x-aws-ec2-metadata-token")
        .map(|v| v.as_bytes())
        != Some(TOKEN.as_bytes())
    {
        counts.unauthorized.fetch_add(1, Ordering::Relaxed);
        return reply(StatusCode::UNAUTHORIZED, "");
    }
    counts.answered.fetch_add(1, Ordering::Relaxed);
    match values.get(path) {
        Some(v) => reply(StatusCode::OK, v.clone()),
        None => reply(StatusCode::NOT_FOUND, ""),
    }
}
