//! A Multi-AZ failover as RDS does it, on one machine: a TLS-only primary streaming
//! synchronously to a standby, itemsd connected through a relay that stands for the endpoint.
//! Under steady reads and writes the relay silences every connection it holds (bytes accepted,
//! never answered: an AZ gone dark sends no reset) and sends new connections to the standby,
//! which is promoted. itemsd runs with its production deadlines.

mod common;

use std::time::{Duration, Instant};

use common::app::TestApp;
use common::eventually;
use common::load::{self, Load};
use common::pg::Cluster;
use common::relay::Relay;

/// What the issue holds itemsd to: every request answered within this...
const ANSWER_BOUND: Duration = Duration::from_secs(10);
/// ...and the last failure no later than this after the flip.
const RECOVERY_BOUND: Duration = Duration::from_secs(15);
/// How long the load runs after the flip: past the recovery bound, so that successes after
/// the last failure are seen.
const OBSERVED_AFTER_FLIP: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_primary_costs_seconds_and_loses_no_acknowledged_write() {
    let primary = Cluster::start();
    let db = primary.fresh_database().await;
    let standby = Cluster::standby_of(&primary);
    standby.start_server();
    // After the base backup, so that the standby, once promoted, does not wait for a standby
    // of its own.
    primary
        .execute(
            "postgres",
            "ALTER SYSTEM SET synchronous_standby_names = '*'",
        )
        .await;
    primary.execute("postgres", "SELECT pg_reload_conf()").await;
    let watcher = primary.connect("postgres").await;
    eventually(
        "the standby is synchronous",
        Duration::from_secs(30),
        || {
            let watcher = &watcher;
            async move {
                watcher
                    .query_opt(
                        "SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'",
                        &[],
                    )
                    .await
                    .is_ok_and(|row| row.is_some())
            }
        },
    )
    .await;

    let relay = Relay::start(primary.port).await;
    let relay_port = relay.addr.port().to_string();
    let app = TestApp::spawn_on(&primary, &db, &[("DB_PORT", relay_port.as_str())]).await;
    app.wait_for("/db", Duration::from_secs(30), |r| r.status == 200)
        .await;

    let load = Load::start(app.addr, 4, Duration::from_millis(20), load::mixed);
    load.wait_answered(100, Duration::from_secs(30)).await;

    let flipped = Instant::now();
    relay.flip(standby.port);
    tokio::task::block_in_place(|| standby.promote());
    // The observation window of the measurement, not a synchronisation.
    tokio::time::sleep(OBSERVED_AFTER_FLIP).await;
    let outcomes = load.stop().await;

    let slowest = outcomes.iter().map(|o| o.latency).max().unwrap_or_default();
    assert!(
        slowest < ANSWER_BOUND,
        "a request took {slowest:?}; failures: {:?}",
        load::failures(&outcomes, |o| o.succeeded())
    );
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.succeeded()).collect();
    for f in &failed {
        assert_eq!(
            f.status(),
            Some(503),
            "a failure is a 503 with the error body, never a reset or a 500: {:?}",
            load::failures(&outcomes, |o| o.succeeded())
        );
    }
    let last_failure = failed
        .iter()
        .map(|o| o.at + o.latency)
        .max()
        .map(|end| end.saturating_duration_since(flipped));
    if let Some(last) = last_failure {
        assert!(
            last < RECOVERY_BOUND,
            "the last failure came {last:?} after the flip"
        );
    }
    let recovered_at = flipped + last_failure.unwrap_or_default();
    for method in ["GET", "POST"] {
        let after = outcomes
            .iter()
            .filter(|o| o.method == method && o.at > recovered_at && o.succeeded())
            .count();
        assert!(
            after >= 10,
            "{after} {method}s succeeded after the last failure"
        );
    }

    // Every acknowledged write is on the new primary.
    let created: Vec<i32> = outcomes
        .iter()
        .filter(|o| o.status() == Some(201))
        .map(|o| {
            o.json()["item"]["id"]
                .as_i64()
                .and_then(|id| i32::try_from(id).ok())
                .expect("a created item has an id")
        })
        .collect();
    let on_new_primary: i64 = standby
        .connect(&db)
        .await
        .query_one("SELECT count(*) FROM items WHERE id = ANY($1)", &[&created])
        .await
        .expect("count on the new primary")
        .get(0);
    assert_eq!(
        on_new_primary,
        created.len() as i64,
        "every 201 is on the new primary"
    );
    let db_after = app.get("/db").await;
    assert_eq!(db_after.status, 200, "{}", db_after.text());
    let metrics = app.get("/metrics").await.text();
    assert!(
        !metrics.contains("db_deadlines_exceeded_total 0\n"),
        "the deadlines that fired are counted: {metrics}"
    );
    println!(
        "failover: {} requests, {} failed (all 503), slowest {slowest:?}, last failure {:?} \
         after the flip, {} writes acknowledged, all on the new primary",
        outcomes.len(),
        failed.len(),
        last_failure,
        created.len()
    );
    app.stop().await;
}
