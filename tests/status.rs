//! `itemsd status` against the real binary in each phase: serving and healthy, the database
//! down, draining, and nothing running; `--json` for machines.

mod common;

use std::process::Output;
use std::time::Duration;

use common::eventually;
use common::pg::{self, Cluster};
use common::process::{db_env, itemsd, Process};

/// The serving settings on a fixed port (`status` finds the service by `APPLICATION_PORT`).
fn env(cluster: &Cluster, db: &str, port: u16) -> Vec<(&'static str, String)> {
    let mut env = db_env(cluster, db);
    env.extend([
        ("APPLICATION_PORT", port.to_string()),
        ("INSTANCE_ID", "i-status".to_owned()),
        ("SHUTDOWN_DELAY_SECONDS", "30".to_owned()),
    ]);
    env
}

fn status(env: &[(&'static str, String)], json: bool) -> Output {
    let mut cmd = itemsd(env);
    cmd.arg("status");
    if json {
        cmd.arg("--json");
    }
    cmd.output().expect("itemsd status runs")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn serving_and_healthy_then_draining() {
    let cluster = pg::shared();
    let db = cluster.fresh_database().await;
    let port = common::free_port();
    let env = env(cluster, &db, port);
    let mut serve = Process::spawn(itemsd(&env));
    serve
        .wait_for_log("itemsd listening", Duration::from_secs(20))
        .await;
    eventually(
        "the database probed up",
        Duration::from_secs(20),
        || async { status(&env, false).status.code() == Some(0) },
    )
    .await;

    let out = status(&env, false);
    let screen = text(&out);
    println!("{screen}");
    assert_eq!(out.status.code(), Some(0), "{screen}");
    for expected in [
        ": serving, healthy",
        "identity   i-status",
        "database   ok",
        "schema 2 (this binary 2)",
        "TLS verify-full",
        "duty       probe",
        "logs       stdout only",
    ] {
        assert!(screen.contains(expected), "{expected:?} in:\n{screen}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&status(&env, true).stdout).expect("--json prints JSON");
    assert_eq!(json["phase"], "serving");
    assert_eq!(json["database"]["state"], "ok");
    assert_eq!(json["pool"]["max"], 10);
    assert!(
        json["duties"][0]["last_success_age_s"].is_number(),
        "{json}"
    );
    assert!(
        !screen.contains(pg::SUPERUSER_PASSWORD),
        "no secret in the status"
    );

    serve.signal(libc::SIGTERM);
    serve
        .wait_for_log(
            "draining: /health now answers 503; still serving",
            Duration::from_secs(10),
        )
        .await;
    let out = status(&env, false);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(": draining, draining"),
        "{}",
        text(&out)
    );
    serve.signal(libc::SIGTERM); // hurry
    assert_eq!(serve.wait_exit(Duration::from_secs(30)).await, 0);

    let out = status(&env, false);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("not running"), "{}", text(&out));
}

#[tokio::test]
async fn the_database_down_is_degraded_with_its_last_error() {
    let cluster = Cluster::create(); // never started
    let port = common::free_port();
    let env = env(&cluster, "appdb", port);
    let mut serve = Process::spawn(itemsd(&env));
    serve
        .wait_for_log("itemsd listening", Duration::from_secs(20))
        .await;
    let out = status(&env, false);
    let screen = text(&out);
    assert_eq!(out.status.code(), Some(1), "{screen}");
    assert!(screen.contains(": serving, degraded"), "{screen}");
    assert!(screen.contains("database   error"), "{screen}");
    assert!(
        screen.contains("last error"),
        "the probe's cause is shown: {screen}"
    );
    let json: serde_json::Value = serde_json::from_slice(&status(&env, true).stdout).expect("JSON");
    assert!(
        json["database"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("connect")),
        "{json}"
    );
}

#[test]
fn nothing_running_is_exit_3_in_both_forms() {
    let cluster = pg::shared();
    let env = env(cluster, "appdb", common::free_port());
    let out = status(&env, false);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out).starts_with("itemsd is not running on this host"),
        "{}",
        text(&out)
    );
    let out = status(&env, true);
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["running"], false);
}
