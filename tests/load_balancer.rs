//! Rolling restarts behind a real load balancer: two itemsd processes behind HAProxy, which
//! health-checks `/health` the way the ALB does, under steady keep-alive load. Each instance is
//! replaced in turn, and not one request may fail: no non-2xx, no reset, no refused connection.

mod common;

use std::time::Duration;

use common::haproxy::{HaProxy, CHECK_INTERVAL};
use common::load::{self, Load, Outcome};
use common::pg;
use common::process::{db_env, itemsd, Process};

/// The pre-stop delay: longer than HAProxy needs to see `/health` fail twice (2 × 250 ms plus a
/// check's own time), with room for a loaded machine. The ALB's is 25 s for 2 × 10 s + 5 s.
const SHUTDOWN_DELAY: Duration = Duration::from_secs(2);
const _: () = assert!(SHUTDOWN_DELAY.as_millis() >= 4 * CHECK_INTERVAL.as_millis());
/// Steady load: 8 keep-alive connections, a request every 10 ms on each.
const WORKERS: usize = 8;
const PACE: Duration = Duration::from_millis(10);
/// Enough answers between steps that every phase is known to have carried traffic.
const ANSWERS_PER_PHASE: u64 = 200;

async fn start_instance(db: &str, port: u16, name: &str) -> Process {
    let mut env = db_env(pg::shared(), db);
    env.extend([
        ("APPLICATION_PORT", port.to_string()),
        ("INSTANCE_ID", name.into()),
        (
            "SHUTDOWN_DELAY_SECONDS",
            SHUTDOWN_DELAY.as_secs().to_string(),
        ),
        ("SHUTDOWN_TIMEOUT_SECONDS", "10".into()),
        ("HEALTH_PROBE_INTERVAL_SECONDS", "1".into()),
    ]);
    let mut proc = Process::spawn(itemsd(&env));
    proc.wait_for_log("itemsd listening", Duration::from_secs(20))
        .await;
    proc
}

/// SIGTERM, as systemd sends it, then the exit: zero, after a clean drain.
async fn stop_instance(mut proc: Process) -> Process {
    proc.signal(libc::SIGTERM);
    let code = proc.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(code, 0, "itemsd exits 0 after draining:\n{}", proc.output());
    proc
}

fn served(proc: &mut Process) -> usize {
    proc.read_available();
    proc.output()
        .lines()
        .filter(|l| l.contains(r#""msg":"request completed""#))
        .count()
}

fn assert_no_failure(outcomes: &[Outcome]) {
    let failed = load::failures(outcomes, Outcome::succeeded);
    assert!(
        failed.is_empty(),
        "{} of {} requests failed:\n{}",
        outcomes.iter().filter(|o| !o.succeeded()).count(),
        outcomes.len(),
        failed.join("\n")
    );
    println!("{} requests, all 2xx", outcomes.len());
}

async fn wait_up(lb: &HaProxy, slot: &str) {
    lb.wait_state(slot, "UP", Duration::from_secs(20)).await;
}

async fn wait_down(lb: &HaProxy, slot: &str) {
    lb.wait_state(slot, "DOWN", Duration::from_secs(20)).await;
}

/// Instance refresh: the new instance comes up at a new address and is healthy in the target
/// group before the old one is told to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_refresh_behind_haproxy_fails_no_request() {
    let db = pg::shared().fresh_database().await;
    let ports: Vec<u16> = (0..4).map(|_| common::free_port()).collect();
    let old_a = start_instance(&db, ports[0], "i-old-a").await;
    let old_b = start_instance(&db, ports[1], "i-old-b").await;
    let lb = HaProxy::start(&ports).await;
    wait_up(&lb, "s0").await;
    wait_up(&lb, "s1").await;
    // HAProxy holds every server up until its checks fail; the slots of the instances to come
    // are not registered yet, as in the target group.
    wait_down(&lb, "s2").await;
    wait_down(&lb, "s3").await;

    let load = Load::start(lb.addr, WORKERS, PACE, load::mixed);
    load.wait_answered(ANSWERS_PER_PHASE, Duration::from_secs(60))
        .await;

    let new_a = start_instance(&db, ports[2], "i-new-a").await;
    wait_up(&lb, "s2").await;
    let old_a = stop_instance(old_a).await;
    wait_down(&lb, "s0").await;
    load.wait_answered(ANSWERS_PER_PHASE, Duration::from_secs(60))
        .await;

    let new_b = start_instance(&db, ports[3], "i-new-b").await;
    wait_up(&lb, "s3").await;
    let old_b = stop_instance(old_b).await;
    wait_down(&lb, "s1").await;
    load.wait_answered(ANSWERS_PER_PHASE, Duration::from_secs(60))
        .await;

    let outcomes = load.stop().await;
    assert_no_failure(&outcomes);
    for (name, mut proc) in [
        ("old a", old_a),
        ("old b", old_b),
        ("new a", new_a),
        ("new b", new_b),
    ] {
        assert!(served(&mut proc) > 0, "{name} served no request");
    }
}

/// `systemctl restart` on each instance in turn: SIGTERM while still in the rotation, the new
/// process on the same port after the old one has exited, while the other instance carries the
/// load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_in_place_behind_haproxy_fails_no_request() {
    let db = pg::shared().fresh_database().await;
    let ports: Vec<u16> = (0..2).map(|_| common::free_port()).collect();
    let mut instances = vec![
        start_instance(&db, ports[0], "i-a").await,
        start_instance(&db, ports[1], "i-b").await,
    ];
    let lb = HaProxy::start(&ports).await;
    wait_up(&lb, "s0").await;
    wait_up(&lb, "s1").await;

    let load = Load::start(lb.addr, WORKERS, PACE, load::mixed);
    load.wait_answered(ANSWERS_PER_PHASE, Duration::from_secs(60))
        .await;

    let mut stopped = Vec::new();
    for (slot, port) in ports.iter().enumerate() {
        let old = instances.remove(0);
        stopped.push(stop_instance(old).await);
        wait_down(&lb, &format!("s{slot}")).await;
        instances.push(start_instance(&db, *port, &format!("i-{slot}-restarted")).await);
        wait_up(&lb, &format!("s{slot}")).await;
        load.wait_answered(ANSWERS_PER_PHASE, Duration::from_secs(60))
            .await;
    }

    let outcomes = load.stop().await;
    assert_no_failure(&outcomes);
    for mut proc in stopped.into_iter().chain(instances) {
        assert!(served(&mut proc) > 0, "an instance served no request");
    }
}
