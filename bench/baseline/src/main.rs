//! A minimal hyper server: the baseline itemsd's `GET /` and `GET /health` are measured against.
//! Same runtime (tokio, multi-threaded), same HTTP/1.1 connection settings (keep-alive,
//! TCP_NODELAY) and bodies of the same shape, serialised the same way (serde_json, a chrono
//! timestamp); no logging, metrics, request ids or routing table.
//!
//! Usage: itemsd-bench-baseline [PORT] (default 5002), listening on 127.0.0.1.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;

#[derive(Serialize)]
struct Index {
    status: &'static str,
    service: &'static str,
    version: &'static str,
    environment: &'static str,
    hostname: &'static str,
    instance_id: &'static str,
    instance_ip: &'static str,
    availability_zone: &'static str,
    timestamp: String,
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    timestamp: String,
    version: &'static str,
    checks: Checks,
    instance: Instance,
}

#[derive(Serialize)]
struct Checks {
    application: &'static str,
    database: &'static str,
}

#[derive(Serialize)]
struct Instance {
    id: &'static str,
    ip: &'static str,
    az: &'static str,
}

fn timestamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.uri().path() {
        "/" => serde_json::to_vec(&Index {
            status: "healthy",
            service: "baseline",
            version: "0.1.0",
            environment: "bench",
            hostname: "localhost",
            instance_id: "i-0123456789abcdef0",
            instance_ip: "127.0.0.1",
            availability_zone: "local",
            timestamp: timestamp(),
        }),
        "/health" => serde_json::to_vec(&Health {
            status: "healthy",
            timestamp: timestamp(),
            version: "0.1.0",
            checks: Checks {
                application: "ok",
                database: "ok",
            },
            instance: Instance {
                id: "i-0123456789abcdef0",
                ip: "127.0.0.1",
                az: "local",
            },
        }),
        _ => return Ok(json(StatusCode::NOT_FOUND, br#"{"error":"Not Found"}"#.to_vec())),
    };
    Ok(json(StatusCode::OK, body.unwrap_or_default()))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "PORT must be a number")
        })?,
        None => 5002,
    };
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .await;
        });
    }
}
