//! A minimal hyper server: the baseline itemsd is measured against. Same runtime (tokio,
//! multi-threaded), same HTTP/1.1 connection settings (keep-alive, TCP_NODELAY), bodies of the
//! same shape serialised the same way (serde_json, chrono timestamps), the same SQL through the
//! same client and pool crates (tokio-postgres, deadpool-postgres, statements prepared once per
//! connection); and nothing else: no logging, metrics, request ids, routing table, validation,
//! limits or timeouts.
//!
//! Routes: GET / and GET /health (never touch the database), GET /api/items?limit=&offset=,
//! POST /api/items. Usage: itemsd-bench-baseline [PORT] (default 5002, on 127.0.0.1); the
//! database from DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD and DB_POOL_MAX_CONN (as
//! itemsd), connected on first use.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDateTime;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_postgres::{NoTls, Row};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COLUMNS: &str = "id, name, description, value, created_at, updated_at";

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

#[derive(Serialize)]
struct Item {
    id: i32,
    name: String,
    description: Option<String>,
    value: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

#[derive(Serialize)]
struct List {
    items: Vec<Item>,
    count: usize,
    limit: i64,
    offset: i64,
}

#[derive(Serialize)]
struct Created {
    message: &'static str,
    item: Item,
}

#[derive(Deserialize)]
struct NewItem {
    name: String,
    description: Option<String>,
    value: Option<String>,
}

type Resp = Response<Full<Bytes>>;

fn timestamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

fn item(row: &Row) -> Item {
    let iso = |t: Option<NaiveDateTime>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
    Item {
        id: row.get(0),
        name: row.get(1),
        description: row.get(2),
        value: row.get(3),
        created_at: iso(row.get(4)),
        updated_at: iso(row.get(5)),
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Resp {
    json(
        status,
        serde_json::json!({"error": status.canonical_reason(), "message": message.to_string()})
            .to_string()
            .into_bytes(),
    )
}

fn query_param(query: Option<&str>, name: &str, default: i64) -> i64 {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(default)
}

async fn list(pool: &Pool, query: Option<&str>) -> Result<Resp, Resp> {
    let (limit, offset) = (query_param(query, "limit", 10), query_param(query, "offset", 0));
    let db = |e: &dyn std::fmt::Display| error(StatusCode::SERVICE_UNAVAILABLE, e);
    let conn = pool.get().await.map_err(|e| db(&e))?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM items ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
        ))
        .await
        .map_err(|e| db(&e))?;
    let rows = conn
        .query(&stmt, &[&limit, &offset])
        .await
        .map_err(|e| db(&e))?;
    let items: Vec<Item> = rows.iter().map(item).collect();
    let body = List {
        count: items.len(),
        items,
        limit,
        offset,
    };
    Ok(json(StatusCode::OK, serde_json::to_vec(&body).unwrap_or_default()))
}

async fn create(pool: &Pool, req: Request<Incoming>) -> Result<Resp, Resp> {
    let bytes = req
        .into_body()
        .collect()
        .await
        .map_err(|e| error(StatusCode::BAD_REQUEST, e))?
        .to_bytes();
    let new: NewItem =
        serde_json::from_slice(&bytes).map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    let db = |e: &dyn std::fmt::Display| error(StatusCode::SERVICE_UNAVAILABLE, e);
    let conn = pool.get().await.map_err(|e| db(&e))?;
    let stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO items (name, description, value) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
        ))
        .await
        .map_err(|e| db(&e))?;
    let row = conn
        .query_one(&stmt, &[&new.name, &new.description, &new.value])
        .await
        .map_err(|e| db(&e))?;
    let body = Created {
        message: "Item created successfully",
        item: item(&row),
    };
    Ok(json(
        StatusCode::CREATED,
        serde_json::to_vec(&body).unwrap_or_default(),
    ))
}

async fn handle(pool: Arc<Pool>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let body = match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => serde_json::to_vec(&Index {
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
        (&Method::GET, "/health") => serde_json::to_vec(&Health {
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
        (&Method::GET, "/api/items") => {
            let query = req.uri().query().map(str::to_owned);
            return Ok(list(&pool, query.as_deref()).await.unwrap_or_else(|e| e));
        }
        (&Method::POST, "/api/items") => {
            return Ok(create(&pool, req).await.unwrap_or_else(|e| e));
        }
        _ => return Ok(error(StatusCode::NOT_FOUND, "no such route")),
    };
    Ok(json(StatusCode::OK, body.unwrap_or_default()))
}

fn pool() -> Result<Pool, Box<dyn std::error::Error>> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let mut config = tokio_postgres::Config::new();
    config
        .host(&env("DB_HOST", "localhost"))
        .port(env("DB_PORT", "5432").parse()?)
        .dbname(&env("DB_NAME", "appdb"))
        .user(&env("DB_USER", "postgres"))
        .password(env("DB_PASSWORD", ""));
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(env("DB_POOL_MAX_CONN", "10").parse()?)
        .build()?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 5002,
    };
    let pool = Arc::new(pool()?);
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        let pool = Arc::clone(&pool);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&pool), req));
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
