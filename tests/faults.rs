//! Faults outside itemsd, under steady load on the real binary: PostgreSQL stopped and started,
//! the AWS emulator frozen, and itemsd itself killed with SIGKILL.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::client::Client;
use common::eventually_ok;
use common::load::{self, Load, Outcome};
use common::moto::Moto;
use common::pg;
use common::process::{db_env, itemsd, Process};

/// The per-request database deadline of these tests: a request waits at most this long for a
/// pooled connection, and a statement runs at most as long again (README, "Health and the
/// database").
const POOL_WAIT_MS: u64 = 1000;
const STATEMENT_TIMEOUT_MS: u64 = 2000;
/// What scheduling on a loaded 2-core machine may add to a deadline: generous, since a request
/// that ignored the deadline would wait out the 60 s test, not a second more.
const SLACK: Duration = Duration::from_secs(3);

fn start_itemsd(env: Vec<(&'static str, String)>) -> Process {
    let mut env = env;
    env.extend([
        ("HEALTH_PROBE_INTERVAL_SECONDS", "1".into()),
        ("DB_POOL_WAIT_TIMEOUT_MS", POOL_WAIT_MS.to_string()),
        ("DB_STATEMENT_TIMEOUT_MS", STATEMENT_TIMEOUT_MS.to_string()),
        ("INSTANCE_ID", "i-faults".into()),
    ]);
    Process::spawn(itemsd(&env))
}

/// A 503 in the API's error shape.
fn is_unavailable(o: &Outcome) -> bool {
    o.status() == Some(503) && {
        let body = o.json();
        body["error"] == "Service Unavailable"
            && body["status"] == 503
            && body["message"].is_string()
    }
}

fn percentile(outcomes: &[&Outcome], p: f64) -> Duration {
    let mut l: Vec<Duration> = outcomes.iter().map(|o| o.latency).collect();
    l.sort();
    l.get(((l.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or_default()
}

/// PostgreSQL stopped for 10 s under load: every request is answered, with 503 and the error
/// body while the database is away and within the deadline, and items are served again within
/// seconds of its return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_stopped_under_load_answers_503_in_time_and_recovers() {
    let cluster = pg::Cluster::start();
    let db = cluster.fresh_database().await;
    let mut proc = start_itemsd(db_env(&cluster, &db));
    let addr = proc.addr().await;
    let load = Load::start(addr, 4, Duration::from_millis(10), load::mixed);
    load.wait_answered(200, Duration::from_secs(60)).await;

    tokio::task::block_in_place(|| cluster.stop_server());
    let stopped = Instant::now();
    load.wait_answered(100, Duration::from_secs(60)).await;
    // The outage itself: PostgreSQL stays away for 10 s.
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(stopped.elapsed())).await;
    let starting = Instant::now();
    tokio::task::block_in_place(|| cluster.start_server());
    let started = Instant::now();

    // Back: wait for items to be served again, then keep the load on a while.
    let client = Client::new(addr);
    let recovered = eventually_ok(
        "items served again after PostgreSQL's return",
        Duration::from_secs(15),
        || async {
            match client.get("/api/items?limit=1").await.status.as_u16() {
                200 => Ok(Instant::now()),
                other => Err(other.to_string()),
            }
        },
    )
    .await;
    load.wait_answered(200, Duration::from_secs(60)).await;
    let outcomes = load.stop().await;

    let odd = load::failures(&outcomes, |o| o.succeeded() || is_unavailable(o));
    assert!(
        odd.is_empty(),
        "neither 2xx nor a 503 error body:\n{}",
        odd.join("\n")
    );
    let deadline = Duration::from_millis(POOL_WAIT_MS + STATEMENT_TIMEOUT_MS) + SLACK;
    let slowest = outcomes.iter().map(|o| o.latency).max().unwrap_or_default();
    assert!(
        slowest <= deadline,
        "a request took {slowest:?}, past {deadline:?}"
    );

    let during: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.at >= stopped && o.at + o.latency <= starting)
        .collect();
    assert!(!during.is_empty(), "the outage carried load");
    let served = during.iter().filter(|o| o.succeeded()).count();
    assert_eq!(served, 0, "answered 2xx while PostgreSQL was stopped");

    // Within seconds of PostgreSQL's return (the wait above), and for good: nothing fails a
    // second later.
    let back_after = recovered - started;
    let settled = recovered + Duration::from_secs(1);
    let late = load::failures(&outcomes, |o| o.at < settled || o.succeeded());
    assert!(
        late.is_empty(),
        "failures after recovery:\n{}",
        late.join("\n")
    );
    println!(
        "{} requests; {} while PostgreSQL was stopped, all 503, slowest {:?}; items back {back_after:?} after its start",
        outcomes.len(),
        during.len(),
        slowest
    );
    proc.signal(libc::SIGTERM);
    assert_eq!(proc.wait_exit(Duration::from_secs(20)).await, 0);
}

const GROUP: &str = "/itemsd/faults";

/// The request ids of the access-log lines among `lines` (JSON log lines).
fn request_ids<'a>(lines: impl IntoIterator<Item = &'a str>) -> HashSet<String> {
    lines
        .into_iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["msg"] == "request completed")
        .filter_map(|v| v["request_id"].as_str().map(str::to_owned))
        .collect()
}

/// The AWS emulator frozen (SIGSTOP) for 30 s under load: calls to it hang rather than fail, the
/// harder case. Requests are not slowed, and afterwards every access-log line arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_emulator_frozen_under_load_slows_no_request_and_loses_no_log_line() {
    let cluster = pg::shared();
    let db = cluster.fresh_database().await;
    let moto = Moto::start().await;
    let mut env = db_env(cluster, &db);
    env.extend(moto.env());
    env.extend([
        ("CLOUDWATCH_LOG_GROUP", GROUP.to_owned()),
        ("CLOUDWATCH_LOG_FLUSH_MS", "500".to_owned()),
    ]);
    let mut proc = start_itemsd(env);
    let addr = proc.addr().await;
    // About 200 requests a second: 30 s of access logs is a few MB, within the 8 MiB buffer.
    let load = Load::start(addr, 4, Duration::from_millis(20), load::mixed);
    load.wait_answered(1000, Duration::from_secs(60)).await;

    let frozen = Instant::now();
    moto.signal(libc::SIGSTOP);
    // The outage itself: the emulator stays frozen for 30 s.
    tokio::time::sleep(Duration::from_secs(30)).await;
    moto.signal(libc::SIGCONT);
    let thawed = Instant::now();
    load.wait_answered(400, Duration::from_secs(60)).await;
    let outcomes = load.stop().await;
    proc.signal(libc::SIGTERM);
    assert_eq!(proc.wait_exit(Duration::from_secs(40)).await, 0);

    let failed = load::failures(&outcomes, Outcome::succeeded);
    assert!(failed.is_empty(), "requests failed:\n{}", failed.join("\n"));
    let before: Vec<&Outcome> = outcomes.iter().filter(|o| o.at < frozen).collect();
    let during: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.at >= frozen && o.at < thawed)
        .collect();
    let (p50_before, p99_before) = (percentile(&before, 0.5), percentile(&before, 0.99));
    let (p50_during, p99_during) = (percentile(&during, 0.5), percentile(&during, 0.99));
    println!(
        "latency before the freeze p50 {p50_before:?} p99 {p99_before:?} ({} requests); during p50 {p50_during:?} p99 {p99_during:?} ({} requests)",
        before.len(),
        during.len()
    );
    // Wide enough for a loaded CI machine, tight enough to catch a request path that waits on
    // shipping (it would wait the SDK's 10 s attempt timeout); the latency figures themselves
    // are the benchmarks' (bench/).
    let slowest = during.iter().map(|o| o.latency).max().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(5),
        "a request took {slowest:?} during the freeze"
    );

    // Every access-log line written (stdout has them all) arrives, duplicates allowed: a call
    // that timed out while the emulator was frozen may still be applied when it thaws.
    let written = request_ids(proc.output().lines());
    assert!(
        written.len() >= outcomes.len(),
        "stdout has every access-log line"
    );
    eventually_ok(
        "every access-log line reached CloudWatch Logs",
        Duration::from_secs(60),
        || async {
            let shipped = request_ids(
                moto.log_messages(GROUP, "i-faults")
                    .iter()
                    .map(String::as_str),
            );
            match written.difference(&shipped).count() {
                0 => Ok(()),
                missing => Err(format!("{missing} of {} missing", written.len())),
            }
        },
    )
    .await;
}

/// SIGKILL mid-load: no item that was answered 201 is lost, because 201 comes after the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_committed_item() {
    let cluster = pg::shared();
    let db = cluster.fresh_database().await;
    let mut proc = start_itemsd(db_env(cluster, &db));
    let addr = proc.addr().await;
    let load = Load::start(addr, 8, Duration::from_millis(2), load::creates);
    load.wait_answered(500, Duration::from_secs(60)).await;
    proc.signal(libc::SIGKILL);
    let signal = proc.wait_killed(Duration::from_secs(10)).await;
    assert_eq!(signal, libc::SIGKILL);
    let outcomes = load.stop().await;

    let created: Vec<i64> = outcomes
        .iter()
        .filter(|o| o.status() == Some(201))
        .map(|o| {
            o.json()["item"]["id"]
                .as_i64()
                .expect("a 201 has the item's id")
        })
        .collect();
    let rows: HashSet<i64> = cluster
        .connect(&db)
        .await
        .query("SELECT id::bigint FROM items", &[])
        .await
        .expect("items")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let lost: Vec<&i64> = created.iter().filter(|id| !rows.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "answered 201 but not in the table: {lost:?}"
    );
    assert!(rows.len() >= created.len());
    let others = load::failures(&outcomes, |o| o.status() == Some(201) || o.result.is_err());
    assert!(
        others.is_empty(),
        "neither 201 nor cut off:\n{}",
        others.join("\n")
    );
    println!(
        "{} answered 201, {} rows, {} requests in flight at the kill or refused after it",
        created.len(),
        rows.len(),
        outcomes.iter().filter(|o| o.result.is_err()).count()
    );
}
