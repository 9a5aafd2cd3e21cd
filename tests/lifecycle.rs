//! The binary as systemd and an engineer use it: the drain on SIGTERM, exit codes, and the
//! `check` and `migrate` subcommands.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::client::{raw_status, read_until_close, Client};
use common::eventually_ok;
use common::pg;
use common::process::{base_env, db_env, itemsd, Process};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Sends a POST's head and the first part of its body; the request is then in flight.
async fn start_slow_post(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /api/items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"name\":")
        .await
        .expect("write head");
    s
}

async fn finish_slow_post(mut s: TcpStream) -> String {
    s.write_all(b"\"slow\"}").await.expect("write rest");
    read_until_close(&mut s, Duration::from_secs(10)).await
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let cluster = pg::shared();
    let db = cluster.fresh_database().await;
    let mut env = db_env(cluster, &db);
    env.extend([
        ("SHUTDOWN_DELAY_SECONDS", "2".into()),
        ("SHUTDOWN_TIMEOUT_SECONDS", "10".into()),
    ]);
    let mut proc = Process::spawn(itemsd(&env));
    let addr = proc.addr().await;
    let client = Client::new(addr);
    assert_eq!(client.get("/health").await.status, 200);

    // In flight before the signal, and a keep-alive connection in use.
    let before = start_slow_post(addr).await;
    let keepalive = Client::new(addr);
    assert_eq!(keepalive.get("/").await.status, 200);

    let signalled = Instant::now();
    proc.signal(libc::SIGTERM);

    // Health fails at once, while requests are still served normally.
    let fresh = Client::new(addr);
    // At once, that is; the deadline only has to outlast a loaded machine's scheduling.
    let draining = eventually_ok(
        "/health 503 after SIGTERM",
        Duration::from_secs(10),
        || async {
            let r = fresh.get("/health").await;
            if r.status == 503 {
                Ok(r)
            } else {
                Err(format!("{}", r.status))
            }
        },
    )
    .await;
    assert_eq!(draining.json()["status"], "draining");
    let during_delay = keepalive.get("/api/items").await;
    assert_eq!(during_delay.status, 200, "served during the delay");
    // A client on a kept-alive connection (a service calling the instance directly) is told
    // to move off it before the listener closes.
    assert_eq!(
        during_delay.header("connection"),
        Some("close"),
        "responses after SIGTERM close their connection"
    );
    // Started during the delay, still in flight when accepting stops.
    let during = start_slow_post(addr).await;

    // After the delay, new connections are refused.
    let refused_at = eventually_ok(
        "new connections refused after the delay",
        Duration::from_secs(15),
        || async {
            match TcpStream::connect(addr).await {
                Err(_) => Ok(Instant::now()),
                Ok(_) => Err("still accepting".to_owned()),
            }
        },
    )
    .await;
    assert!(
        refused_at - signalled >= Duration::from_millis(1900),
        "accepting must go on for the 2 s pre-stop delay, stopped after {:?}",
        refused_at - signalled
    );

    // Both in-flight requests complete, told to close their connections.
    for (name, conn) in [("before", before), ("during", during)] {
        let answer = finish_slow_post(conn).await;
        assert_eq!(raw_status(&answer), 201, "{name}: {answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{name}: {answer}"
        );
    }
    assert_eq!(proc.wait_exit(Duration::from_secs(15)).await, 0);
    proc.wait_for_log("all connections drained", Duration::from_secs(1))
        .await;
    proc.wait_for_log("itemsd stopped", Duration::from_secs(1))
        .await;
    let rows = cluster
        .connect(&db)
        .await
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .expect("count")
        .get::<_, i64>(0);
    assert_eq!(rows, 2, "both in-flight writes committed");
}

#[test]
fn invalid_configuration_prints_one_line_and_exits_64() {
    let out = itemsd(&[("APPLICATION_PORT", "not-a-port".into())])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("APPLICATION_PORT"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn help_and_version() {
    let out = itemsd(&[]).arg("--version").output().expect("runs");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("itemsd {}", env!("CARGO_PKG_VERSION"))
    );
    let out = itemsd(&[]).arg("--help").output().expect("runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in ["serve", "migrate", "check"] {
        assert!(help.contains(sub), "--help lists {sub}: {help}");
    }
}

#[tokio::test]
async fn migrate_then_check_report_what_they_find_with_secrets_masked() {
    let cluster = pg::shared();
    let db = cluster.fresh_database().await;
    let env = db_env(cluster, &db);

    let out = itemsd(&env).arg("check").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "an unmigrated schema fails the check: {text}"
    );
    assert!(text.contains("run `itemsd migrate`"), "{text}");

    let out = itemsd(&env).arg("migrate").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("applied [1, 2]"), "{text}");
    let out = itemsd(&env).arg("migrate").output().expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("already at version 2"));

    let out = itemsd(&env).arg("check").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("PostgreSQL"), "{text}");
    assert!(text.contains("version 2 (current)"), "{text}");
    assert!(text.contains("DB_POOL_MAX_CONN"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("DB_PASSWORD") && l.ends_with("(set, hidden)")),
        "password shown only as set: {text}"
    );
    assert!(!text.contains(pg::SUPERUSER_PASSWORD), "{text}");
}

#[test]
fn check_fails_clearly_when_the_database_is_unreachable() {
    let mut env = base_env();
    env.extend([
        ("DB_HOST", "127.0.0.1".to_owned()),
        ("DB_PORT", common::free_port().to_string()),
    ]);
    let out = itemsd(&env).arg("check").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  database"), "{text}");
}

#[tokio::test]
async fn a_second_signal_skips_the_rest_of_the_delay() {
    let cluster = pg::shared();
    let db = cluster.fresh_database().await;
    let mut env = db_env(cluster, &db);
    env.extend([("SHUTDOWN_DELAY_SECONDS", "600".into())]);
    let mut proc = Process::spawn(itemsd(&env));
    proc.addr().await;
    proc.signal(libc::SIGINT);
    proc.wait_for_log(
        "draining: /health now answers 503; still serving",
        Duration::from_secs(5),
    )
    .await;
    proc.signal(libc::SIGINT);
    // Far less than the 600 s delay: the second signal hurried it.
    assert_eq!(proc.wait_exit(Duration::from_secs(10)).await, 0);
    proc.wait_for_log(
        "shutdown hurried: skipping the rest of the delay and drain",
        Duration::from_secs(1),
    )
    .await;
}
