//! Generated input against the live server (in-process, on a real PostgreSQL): bodies, query
//! strings, item ids and whole malformed requests. Whatever arrives, the answer is a success or
//! a 4xx in the error body shape, never a 5xx, and the server keeps serving. A failing case is
//! written by proptest to a regressions file beside this one; commit it, and it is replayed
//! first on every run.

mod common;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use common::app::TestApp;
use common::client::{Client, TestResponse};
use common::pg;
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One server for every case: starting one per case would test start-up, not parsing.
struct Live {
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    client: Client,
}

fn live() -> &'static Live {
    static LIVE: OnceLock<Live> = OnceLock::new();
    LIVE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let app = runtime.block_on(TestApp::spawn(pg::shared(), &[]));
        let (addr, client) = (app.addr, app.client.clone());
        // The server lives as long as the test binary.
        std::mem::forget(app);
        Live {
            runtime,
            addr,
            client,
        }
    })
}

fn send(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> TestResponse {
    let live = live();
    live.runtime
        .block_on(live.client.send(method, path, headers, body))
}

/// A 4xx must carry the error body with its own status; nothing may be a 5xx.
fn check_answer(resp: &TestResponse, allowed: &[u16]) -> Result<(), TestCaseError> {
    let status = resp.status.as_u16();
    prop_assert!(
        allowed.contains(&status),
        "status {status} not in {allowed:?}: {}",
        resp.text()
    );
    if status >= 400 {
        let body = resp.json();
        prop_assert_eq!(
            &body["status"],
            &serde_json::json!(status),
            "{}",
            resp.text()
        );
        prop_assert!(body["error"].is_string() && body["message"].is_string());
    }
    Ok(())
}

fn encode(raw: &str) -> String {
    form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

/// JSON-ish bytes: valid objects with the item's fields, other JSON, and plain garbage.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let scalar = prop_oneof![
        Just("null".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "\\PC{0,300}".prop_map(|s| serde_json::Value::from(s).to_string()),
        (250usize..260).prop_map(|n| format!("\"{}\"", "é".repeat(n))),
        Just("\"a\\u0000b\"".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
    ];
    prop_oneof![
        (scalar.clone(), scalar.clone(), scalar.clone()).prop_map(|(n, d, v)| {
            format!(r#"{{"name":{n},"description":{d},"value":{v}}}"#).into_bytes()
        }),
        scalar.prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..200),
        "[{}\\[\\]\",:a-z0-9 \\\\]{0,60}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_post_body_is_created_or_refused_with_a_4xx(
        body in body(),
        content_type in prop_oneof![
            Just("application/json"),
            Just("application/json; charset=utf-8"),
            Just("application/merge-patch+json"),
            Just("text/plain"),
            Just(""),
        ],
    ) {
        let headers: &[(&str, &str)] = if content_type.is_empty() { &[] } else { &[("content-type", content_type)] };
        let resp = send("POST", "/api/items", headers, &body);
        check_answer(&resp, &[201, 400, 415])?;
        if resp.status == 201 {
            let item = &resp.json()["item"];
            prop_assert!(item["id"].as_i64().is_some_and(|id| id > 0));
        }
    }

    #[test]
    fn any_query_string_lists_or_is_refused(
        pairs in prop::collection::vec(
            (
                prop_oneof![Just("limit".to_owned()), Just("offset".to_owned()), "\\PC{0,8}"],
                prop_oneof![any::<i64>().prop_map(|n| n.to_string()), "\\PC{0,20}"],
            ),
            0..4,
        ),
    ) {
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        let resp = send("GET", &format!("/api/items?{}", query.join("&")), &[], b"");
        check_answer(&resp, &[200, 400])?;
    }

    #[test]
    fn any_item_id_is_found_missing_or_refused(
        raw in "\\PC{1,24}|[0-9]{1,25}|-[0-9]{1,5}",
        method in prop_oneof![Just("GET"), Just("DELETE"), Just("HEAD")],
    ) {
        let resp = send(method, &format!("/api/items/{}", encode(&raw)), &[], b"");
        if method == "HEAD" {
            prop_assert!(resp.status.as_u16() < 500);
        } else {
            check_answer(&resp, &[200, 204, 400, 404])?;
        }
    }

    #[test]
    fn any_malformed_request_gets_a_4xx_or_a_close(
        method in prop_oneof![Just("GET".to_owned()), Just("POST".to_owned()), Just("DELETE".to_owned()), Just("PUT".to_owned()), "[A-Z]{1,8}", "\\PC{0,8}"],
        target in prop_oneof![Just("/api/items".to_owned()), Just("/health".to_owned()), "/[!-~]{0,40}", "[ -~]{0,40}"],
        version in prop_oneof![Just("HTTP/1.1".to_owned()), Just("HTTP/1.0".to_owned()), Just("HTTP/2.0".to_owned()), "[ -~]{0,10}"],
        headers in prop::collection::vec("[ -~]{0,40}", 0..6),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut raw = format!("{method} {target} {version}\r\nHost: fuzz\r\n").into_bytes();
        for h in &headers {
            raw.extend_from_slice(h.as_bytes());
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(&body);
        let live = live();
        let answer = live.runtime.block_on(exchange(live.addr, &raw));
        // Every response on the connection: the request may have pipelined into two.
        for status_line in answer.split("\r\n").filter(|l| l.starts_with("HTTP/1.")) {
            let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            prop_assert!((100..500).contains(&status), "{status_line:?} for {:?}", String::from_utf8_lossy(&raw));
        }
        let health = send("GET", "/health", &[], b"");
        prop_assert_eq!(health.status.as_u16(), 200);
    }
}

/// Writes `raw`, ends the sending side (so nothing waits for more), and reads what comes back.
async fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = stream.write_all(raw).await;
    let _ = stream.shutdown().await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "no answer and no close within 15 s for {:?}",
        String::from_utf8_lossy(raw)
    );
    String::from_utf8_lossy(&out).into_owned()
}
