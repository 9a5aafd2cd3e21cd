//! The HTTP API against the real server and a real PostgreSQL: every route and field, every
//! validation rule, the headers, the metrics, and the OpenAPI description.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::app::TestApp;
use common::client::{raw_exchange, raw_status};
use common::pg;
use serde_json::Value;

async fn app() -> TestApp {
    TestApp::spawn(pg::shared(), &[]).await
}

#[tokio::test]
async fn index_reports_identity_without_the_database() {
    let app = app().await;
    let resp = app.get("/").await;
    assert_eq!(resp.status, 200);
    let v = resp.json();
    for field in [
        "status",
        "service",
        "version",
        "environment",
        "hostname",
        "instance_id",
        "instance_ip",
        "availability_zone",
        "timestamp",
    ] {
        assert!(v.get(field).is_some(), "GET / lacks {field}: {v}");
    }
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["instance_id"], "i-test");
    assert_eq!(v["availability_zone"], "local");
}

#[tokio::test]
async fn health_reports_state_and_instance() {
    let app = app().await;
    let v = app
        .wait_for("/health", Duration::from_secs(10), |r| {
            r.status == 200 && r.json()["checks"]["database"] == "ok"
        })
        .await
        .json();
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["checks"]["application"], "ok");
    assert_eq!(v["instance"]["id"], "i-test");
    assert!(v["instance"]["ip"].is_string() && v["instance"]["az"].is_string());
    assert!(v["version"].is_string() && v["timestamp"].is_string());
}

#[tokio::test]
async fn db_reports_version_counts_and_pool() {
    let app = app().await;
    app.post_json("/api/items", r#"{"name":"one"}"#).await;
    let resp = app.get("/db").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["status"], "connected");
    assert!(v["database_version"]
        .as_str()
        .is_some_and(|s| s.starts_with("PostgreSQL")));
    assert_eq!(v["items_count"], 1);
    assert_eq!(v["tables_count"], 2, "items and schema_migrations: {v}");
    assert_eq!(v["pool_size"], 10);
    assert_eq!(v["schema_version"], 2);
    assert!(
        v["pool"]["size"].as_u64().is_some_and(|n| n >= 2),
        "min connections opened: {v}"
    );
}

#[tokio::test]
async fn items_are_created_listed_fetched_and_deleted() {
    let app = app().await;
    let resp = app
        .post_json(
            "/api/items",
            r#"{"name":"Widget","description":"A widget","value":"42"}"#,
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["message"], "Item created successfully");
    let item = &v["item"];
    assert_eq!(item["name"], "Widget");
    assert_eq!(item["description"], "A widget");
    assert_eq!(item["value"], "42");
    let id = item["id"].as_i64().expect("numeric id");
    let created = item["created_at"].as_str().expect("created_at");
    assert!(
        chrono::NaiveDateTime::parse_from_str(created, "%Y-%m-%dT%H:%M:%S%.f").is_ok(),
        "ISO timestamp: {created}"
    );

    // Missing optional fields are stored as "", an explicit null as null (as the original).
    let v = app
        .post_json("/api/items", r#"{"name":"Gadget","value":null}"#)
        .await
        .json();
    assert_eq!(v["item"]["description"], "");
    assert_eq!(v["item"]["value"], Value::Null);

    let list = app.get("/api/items").await;
    assert_eq!(list.status, 200);
    let list = list.json();
    assert_eq!(list["count"], 2);
    assert_eq!(list["limit"], 100);
    assert_eq!(list["offset"], 0);
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items array")
        .iter()
        .map(|i| i["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["Gadget", "Widget"], "newest first");
    for field in [
        "id",
        "name",
        "description",
        "value",
        "created_at",
        "updated_at",
    ] {
        assert!(
            list["items"][0].get(field).is_some(),
            "list item lacks {field}"
        );
    }

    let one = app.get(&format!("/api/items/{id}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["name"], "Widget");
    // Percent-encoded digits are the same URL (RFC 3986).
    let encoded: String = id
        .to_string()
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    let same = app.get(&format!("/api/items/{encoded}")).await;
    assert_eq!(same.status, 200, "/api/items/{encoded}");
    assert_eq!(same.json()["name"], "Widget");

    let del = app
        .client
        .send("DELETE", &format!("/api/items/{id}"), &[], b"")
        .await;
    assert_eq!(del.status, 204);
    assert!(del.body.is_empty());
    app.get(&format!("/api/items/{id}"))
        .await
        .error_message(404);
    app.client
        .send("DELETE", &format!("/api/items/{id}"), &[], b"")
        .await
        .error_message(404);
}

#[tokio::test]
async fn updated_at_follows_updates() {
    let app = app().await;
    let v = app.post_json("/api/items", r#"{"name":"t"}"#).await.json();
    let id = v["item"]["id"].as_i64().expect("id");
    pg::shared()
        .execute(
            &app.database,
            &format!("UPDATE items SET created_at = created_at - interval '1 hour', updated_at = updated_at - interval '1 hour' WHERE id = {id}; UPDATE items SET name = 'u' WHERE id = {id}"),
        )
        .await;
    let item = app.get(&format!("/api/items/{id}")).await.json();
    assert_ne!(
        item["created_at"], item["updated_at"],
        "trigger set updated_at: {item}"
    );
}

#[tokio::test]
async fn pages_follow_limit_and_offset() {
    let app = app().await;
    for i in 0..5 {
        let r = app
            .post_json("/api/items", &format!(r#"{{"name":"n{i}"}}"#))
            .await;
        assert_eq!(r.status, 201);
    }
    let v = app.get("/api/items?limit=2&offset=1").await.json();
    assert_eq!(v["count"], 2);
    assert_eq!(v["limit"], 2);
    assert_eq!(v["offset"], 1);
    assert_eq!(v["items"][0]["name"], "n3");
    assert_eq!(v["items"][1]["name"], "n2");
    let v = app.get("/api/items?offset=10").await.json();
    assert_eq!(v["count"], 0);
}

/// One row per rule: method, path, headers, body, expected status, part of the message.
#[tokio::test]
async fn bad_input_gets_a_clear_4xx_with_the_error_body() {
    let app = app().await;
    let json = [("content-type", "application/json")];
    let long = |n: usize| "ü".repeat(n);
    let name_256 = format!(r#"{{"name":"{}"}}"#, long(256));
    let value_256 = format!(r#"{{"name":"a","value":"{}"}}"#, long(256));
    let desc_10001 = format!(r#"{{"name":"a","description":"{}"}}"#, "d".repeat(10_001));
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(70 * 1024));
    let long_query = format!("/api/items?x={}", "a".repeat(5000));
    /// Method, path, headers, body, expected status, part of the expected message.
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        Vec<u8>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/items",
            &json,
            br#"{}"#.to_vec(),
            400,
            "name is required",
        ),
        (
            "POST",
            "/api/items",
            &json,
            br#"{"name":null}"#.to_vec(),
            400,
            "name is required",
        ),
        (
            "POST",
            "/api/items",
            &json,
            br#"{"name":7}"#.to_vec(),
            400,
            "name must be a string",
        ),
        (
            "POST",
            "/api/items",
            &json,
            br#"{"name":"   "}"#.to_vec(),
            400,
            "name must not be blank",
        ),
        (
            "POST",
            "/api/items",
            &json,
            name_256.into_bytes(),
            400,
            "at most 255 characters",
        ),
        (
            "POST",
            "/api/items",
            &json,
            value_256.into_bytes(),
            400,
            "value must be at most 255",
        ),
        (
            "POST",
            "/api/items",
            &json,
            br#"{"name":"a","value":1}"#.to_vec(),
            400,
            "value must be a string",
        ),
        (
            "POST",
            "/api/items",
            &json,
            desc_10001.into_bytes(),
            400,
            "description must be at most 10000",
        ),
        (
            "POST",
            "/api/items",
            &json,
            br#"{"name":"a\u0000b"}"#.to_vec(),
            400,
            "NUL",
        ),
        (
            "POST",
            "/api/items",
            &json,
            br#"{"name":"a","description":"\u0000"}"#.to_vec(),
            400,
            "NUL",
        ),
        (
            "POST",
            "/api/items",
            &json,
            br#"[1,2]"#.to_vec(),
            400,
            "JSON object",
        ),
        (
            "POST",
            "/api/items",
            &json,
            br#"{"name":"a""#.to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "POST",
            "/api/items",
            &json,
            b"".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "POST",
            "/api/items",
            &json,
            b"{\"name\":\"\xff\xfe\"}".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "POST",
            "/api/items",
            &[("content-type", "text/plain")],
            br#"{"name":"a"}"#.to_vec(),
            415,
            "application/json",
        ),
        (
            "POST",
            "/api/items",
            &[],
            br#"{"name":"a"}"#.to_vec(),
            415,
            "application/json",
        ),
        (
            "POST",
            "/api/items",
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            br#"{"name":"a"}"#.to_vec(),
            415,
            "Content-Encoding is not supported",
        ),
        (
            "POST",
            "/api/items",
            &json,
            big.into_bytes(),
            413,
            "at most 65536 bytes",
        ),
        (
            "GET",
            "/api/items?limit=-1",
            &[],
            vec![],
            400,
            "limit must be an integer from 1 to 1000",
        ),
        (
            "GET",
            "/api/items?limit=0",
            &[],
            vec![],
            400,
            "limit must be",
        ),
        (
            "GET",
            "/api/items?limit=1001",
            &[],
            vec![],
            400,
            "limit must be",
        ),
        (
            "GET",
            "/api/items?limit=abc",
            &[],
            vec![],
            400,
            "limit must be",
        ),
        (
            "GET",
            "/api/items?limit=",
            &[],
            vec![],
            400,
            "limit must be",
        ),
        (
            "GET",
            "/api/items?offset=-1",
            &[],
            vec![],
            400,
            "offset must be",
        ),
        (
            "GET",
            "/api/items?offset=1e3",
            &[],
            vec![],
            400,
            "offset must be",
        ),
        (
            "GET",
            "/api/items?limit=1&limit=2",
            &[],
            vec![],
            400,
            "at most once",
        ),
        (
            "GET",
            "/api/items/abc",
            &[],
            vec![],
            400,
            "positive integer",
        ),
        ("GET", "/api/items/-3", &[], vec![], 400, "positive integer"),
        ("GET", "/api/items/0", &[], vec![], 404, "not found"),
        (
            "GET",
            "/api/items/99999999999",
            &[],
            vec![],
            404,
            "not found",
        ),
        ("GET", "/api/items/123456", &[], vec![], 404, "not found"),
        ("GET", "/nowhere", &[], vec![], 404, "not found"),
        ("GET", "/api/items/", &[], vec![], 404, "not found"),
        (
            "PUT",
            "/api/items",
            &json,
            br#"{"name":"a"}"#.to_vec(),
            405,
            "GET, HEAD, POST",
        ),
        ("POST", "/health", &[], vec![], 405, "GET, HEAD"),
        (
            "PATCH",
            "/api/items/1",
            &[],
            vec![],
            405,
            "GET, HEAD, DELETE",
        ),
        (
            "GET",
            long_query.as_str(),
            &[],
            vec![],
            414,
            "at most 4096 bytes",
        ),
    ];
    for (method, path, headers, body, status, message) in cases {
        let resp = app.client.send(method, path, headers, &body).await;
        let case = format!(
            "{method} {} -> {status} ({message})",
            &path[..path.len().min(60)]
        );
        assert_eq!(resp.status.as_u16(), status, "{case}: {}", resp.text());
        let got = resp.error_message(status);
        assert!(got.contains(message), "{case}: message was {got:?}");
        if status == 405 {
            assert_eq!(resp.header("allow"), Some(message), "{case}: Allow header");
        }
    }
    // None of that reached the table.
    assert_eq!(app.get("/api/items").await.json()["count"], 0);
}

#[tokio::test]
async fn an_oversized_body_without_length_is_cut_off_with_413() {
    let app = app().await;
    // Chunked, so the size is only known while reading: the server must stop at the limit.
    let chunk = "x".repeat(16 * 1024);
    let mut raw = String::from(
        "POST /api/items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    for _ in 0..8 {
        raw.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    raw.push_str("0\r\n\r\n");
    let answer = raw_exchange(app.addr, raw.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(raw_status(&answer), 413, "{answer}");
    assert!(answer.contains("\"status\":413"), "{answer}");
}

#[tokio::test]
async fn declared_oversized_body_is_refused_before_it_is_sent() {
    let app = app().await;
    // Only the head is sent: the answer must come without the body ever arriving.
    let raw = "POST /api/items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n";
    let answer = raw_exchange(app.addr, raw.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(raw_status(&answer), 413, "{answer}");
}

#[tokio::test]
async fn oversized_and_too_many_headers_get_431() {
    let app = app().await;
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let answer = raw_exchange(app.addr, huge.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(raw_status(&answer), 431, "{answer}");
    let mut many = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..100 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let answer = raw_exchange(app.addr, many.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(raw_status(&answer), 431, "{answer}");
}

/// Reads one response with a `Content-Length` from `stream`, whole.
async fn read_one_response(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .expect("a Content-Length");
            if raw.len() >= head_end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer within 10 s")
            .expect("read");
        assert!(n > 0, "closed mid-answer: {text:?}");
        raw.extend_from_slice(&buf[..n]);
    }
}

/// `HTTP_IDLE_TIMEOUT_SECONDS` bounds a connection without requests: an idle keep-alive one,
/// and a client sending its request head a header at a time and never finishing it, are closed
/// once the timeout has passed (not before); one whose requests keep coming inside the timeout
/// keeps its connection for many timeouts.
#[tokio::test]
async fn connections_without_requests_are_closed_after_the_idle_timeout() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let timeout = Duration::from_secs(1);
    let app = TestApp::spawn(pg::shared(), &[("HTTP_IDLE_TIMEOUT_SECONDS", "1")]).await;
    let request = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n";

    // Busy: eight requests 400 ms apart on one connection, over three timeouts.
    let mut busy = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        busy.write_all(request)
            .await
            .expect("the busy connection is still open");
        let answer = read_one_response(&mut busy).await;
        assert_eq!(raw_status(&answer), 200, "{answer}");
    }

    // Idle after one answer.
    let mut idle = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    idle.write_all(request).await.expect("write");
    assert_eq!(raw_status(&read_one_response(&mut idle).await), 200);
    let answered = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut rest)).await;
    let idle_for = answered.elapsed();
    assert!(closed.is_ok(), "an idle connection still open after 10 s");
    assert!(
        idle_for >= timeout,
        "closed after {idle_for:?}, before the timeout"
    );
    assert!(rest.is_empty(), "nothing more is sent: {rest:?}");

    // A request head that never ends, a header every 200 ms.
    let slow = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let opened = std::time::Instant::now();
    let (mut from_server, mut to_server) = slow.into_split();
    let mut answer = Vec::new();
    let closed = from_server.read_to_end(&mut answer);
    tokio::pin!(closed);
    to_server
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n")
        .await
        .expect("write");
    let mut headers_sent = 0;
    loop {
        tokio::select! {
            _ = &mut closed => break,
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                assert!(opened.elapsed() < Duration::from_secs(10), "a slow head still open after 10 s");
                // Once the server has closed, a write may fail; the read tells.
                if to_server.write_all(format!("X-Slow-{headers_sent}: a\r\n").as_bytes()).await.is_ok() {
                    headers_sent += 1;
                }
            }
        }
    }
    let open_for = opened.elapsed();
    assert!(
        open_for >= timeout,
        "closed after {open_for:?}, before the timeout"
    );
    assert!(
        headers_sent >= 4,
        "the head was still arriving: {headers_sent} headers"
    );
    assert!(
        answer.is_empty(),
        "no answer to a head never finished: {:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn a_slow_body_times_out_with_408() {
    let app = TestApp::spawn(pg::shared(), &[("HTTP_BODY_TIMEOUT_SECONDS", "1")]).await;
    let raw = "POST /api/items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"na";
    let answer = raw_exchange(app.addr, raw.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(raw_status(&answer), 408, "{answer}");
}

#[tokio::test]
async fn beyond_the_concurrency_limit_requests_get_503_with_retry_after() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn(pg::shared(), &[("HTTP_MAX_CONCURRENT_REQUESTS", "1")]).await;
    // Hold the only slot: a request whose body is still coming.
    let mut holder = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    holder
        .write_all(b"POST /api/items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"name\"")
        .await
        .expect("write");
    let rejected = app
        .wait_for("/", Duration::from_secs(5), |r| r.status == 503)
        .await;
    assert_eq!(rejected.header("retry-after"), Some("1"));
    rejected.error_message(503);
    // Health checks are exempt: a saturated instance must not be taken for a dead one.
    assert_eq!(app.get("/health").await.status, 200);
    holder.write_all(b":\"ok\"}").await.expect("finish body");
    let answer = common::client::read_until_close(&mut holder, Duration::from_secs(2)).await;
    assert_eq!(raw_status(&answer), 201, "{answer}");
    // The slot is free again.
    app.wait_for("/", Duration::from_secs(5), |r| r.status == 200)
        .await;
}

#[tokio::test]
async fn every_response_carries_the_three_headers() {
    let app = app().await;
    for path in ["/", "/health", "/api/items", "/nowhere", "/metrics"] {
        let resp = app.get(path).await;
        let id = resp.header("x-request-id").expect("X-Request-ID");
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "{path}: generated id {id}"
        );
        let time = resp.header("x-response-time").expect("X-Response-Time");
        assert!(time.ends_with("ms"), "{path}: {time}");
        assert_eq!(resp.header("x-instance-id"), Some("i-test"), "{path}");
    }
    let resp = app
        .client
        .send("GET", "/", &[("x-request-id", "trace-123")], b"")
        .await;
    assert_eq!(resp.header("x-request-id"), Some("trace-123"), "echoed");
}

#[tokio::test]
async fn access_log_has_the_promised_fields_and_no_password() {
    let app = app().await;
    app.client
        .send(
            "GET",
            "/api/items?limit=5",
            &[("x-request-id", "log-me")],
            b"",
        )
        .await;
    let lines = app.log_lines("request completed");
    let line = lines
        .iter()
        .find(|l| l["request_id"] == "log-me")
        .expect("an access log line for the request");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/api/items");
    assert_eq!(line["status"], 200);
    assert_eq!(line["instance_id"], "i-test");
    assert!(line["response_time_ms"].is_number());
    assert!(line["timestamp"].is_string());
    assert!(
        !app.logs
            .lines()
            .iter()
            .any(|l| l.contains(pg::SUPERUSER_PASSWORD)),
        "the password must never be logged"
    );
}

/// The access log writes a generated id without scanning it for bytes to escape, and a
/// client's with the scan: both must come out as the id the response carries.
#[tokio::test]
async fn access_log_request_ids_are_the_ones_answered() {
    let app = app().await;
    let generated = app.get("/health").await;
    let generated = generated.header("x-request-id").expect("X-Request-ID");
    let sent = r#"quote"and\backslash"#;
    let echoed = app
        .client
        .send("GET", "/health", &[("x-request-id", sent)], b"")
        .await;
    assert_eq!(echoed.header("x-request-id"), Some(sent), "echoed");
    let lines = app.log_lines("request completed");
    for id in [generated, sent] {
        assert!(
            lines.iter().any(|l| l["request_id"] == id),
            "no access-log line with request_id {id:?} in {lines:?}"
        );
    }
}

#[tokio::test]
async fn fifty_failing_writes_do_not_leak_connections() {
    // Each request with a connection of its own, and with one shared connection.
    for shared in [0, 1] {
        fifty_failing_writes_then_one_that_works(shared).await;
    }
}

async fn fifty_failing_writes_then_one_that_works(shared: usize) {
    // A pool of two and a short wait: one leaked connection per failure would exhaust it
    // after two failures, and the successful write would get 503 instead of 201.
    let shared_setting = shared.to_string();
    let app = TestApp::spawn(
        pg::shared(),
        &[
            ("DB_POOL_MIN_CONN", "1"),
            ("DB_POOL_MAX_CONN", "2"),
            ("DB_POOL_WAIT_TIMEOUT_MS", "1000"),
            ("DB_SHARED_CONNECTIONS", &shared_setting),
        ],
    )
    .await;
    // Writes that pass validation but fail inside the database.
    pg::shared()
        .execute(
            &app.database,
            "ALTER TABLE items ADD CONSTRAINT no_fail CHECK (name <> 'fail')",
        )
        .await;
    for i in 0..50 {
        let resp = app.post_json("/api/items", r#"{"name":"fail"}"#).await;
        assert_eq!(resp.status, 409, "write {i}: {}", resp.text());
        resp.error_message(409);
    }
    // A leaked connection per failure would have emptied the pool: this write would wait out
    // the pool's timeout and get a 503. The pool gauge below says none leaked.
    let resp = app.post_json("/api/items", r#"{"name":"works"}"#).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics.contains(&format!("db_pool_in_use {shared}\n")),
        "every connection back in the pool but the {shared} shared:\n{metrics}"
    );
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_requests() {
    let app = app().await;
    for _ in 0..3 {
        app.post_json("/api/items", r#"{"name":"m"}"#).await;
    }
    for _ in 0..2 {
        app.get("/api/items/abc").await;
    }
    app.get("/nowhere/7").await;
    let resp = app.get("/metrics").await;
    assert_eq!(resp.status, 200);
    assert!(resp
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    let text = resp.text();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition format");
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
            .unwrap_or_else(|| panic!("no sample {name} {labels:?}:\n{text}"))
    };
    assert_eq!(
        value(
            "http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/api/items"),
                ("status", "201")
            ]
        ),
        3.0
    );
    assert_eq!(
        value(
            "http_requests_total",
            &[
                ("method", "GET"),
                ("route", "/api/items/:id"),
                ("status", "400")
            ]
        ),
        2.0
    );
    assert_eq!(
        value(
            "http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0,
        "raw paths never become labels"
    );
    assert_eq!(value("http_errors_total", &[("class", "4xx")]), 3.0);
    assert_eq!(value("application_up", &[]), 1.0);
    assert_eq!(value("application_info", &[("instance", "i-test")]), 1.0);
    assert_eq!(value("db_pool_max_size", &[]), 10.0);
    assert!(value("db_pool_size", &[]) >= 1.0);
    assert_eq!(value("db_pool_waiting", &[]), 0.0);
    assert_eq!(value("db_up", &[]), 1.0);
    assert!(value("process_resident_memory_bytes", &[]) > 0.0);
    assert!(value("process_open_fds", &[]) > 0.0);
    assert!(value("process_start_time_seconds", &[]) > 1.7e9);
    value("process_cpu_seconds_total", &[]);
    value("db_probe_duration_seconds", &[]);
    assert!(!text.contains("/nowhere/7"), "no raw path in metrics");
    assert!(
        text.contains("http_request_duration_seconds_count{route=\"/api/items\"} 3"),
        "latency histogram counts the POSTs:\n{text}"
    );
}

#[tokio::test]
async fn head_requests_answer_without_a_body() {
    let app = app().await;
    let resp = app.client.send("HEAD", "/health", &[], b"").await;
    assert_eq!(resp.status, 200);
    assert!(resp.body.is_empty());
}

/// docs/openapi.yaml and the router must describe the same operations.
#[test]
fn openapi_describes_exactly_the_served_routes() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml"))
        .expect("docs/openapi.yaml");
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("valid YAML");
    let doc = &docs[0];
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "OpenAPI 3.1"
    );
    let mut documented = BTreeSet::new();
    let paths = doc["paths"].as_hash().expect("paths");
    for (path, ops) in paths {
        let path = path.as_str().expect("path key");
        for (method, _) in ops.as_hash().expect("operations") {
            let method = method.as_str().expect("method").to_ascii_uppercase();
            if ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method.as_str()) {
                documented.insert((path.to_owned(), method));
            }
        }
    }
    let served: BTreeSet<(String, String)> = itemsd::http::router::served_operations()
        .into_iter()
        .map(|(p, m)| (p.to_owned(), m.to_owned()))
        .collect();
    let counts: HashMap<&str, usize> =
        [("documented", documented.len()), ("served", served.len())].into();
    assert_eq!(documented, served, "{counts:?}");
}
