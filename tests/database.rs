//! Faults of the database: down at start, restarted mid-run, required by health, and
//! instances racing to migrate.

mod common;

use std::time::Duration;

use common::app::TestApp;
use common::pg::{self, Cluster};

#[tokio::test]
async fn itemsd_starts_with_the_database_down_and_recovers_when_it_comes() {
    let cluster = Cluster::start();
    let db = cluster.fresh_database().await;
    cluster.stop_server();

    let app = TestApp::spawn_on(&cluster, &db, &[]).await;
    let index = app.get("/").await;
    assert_eq!(index.status, 200, "GET / never needs the database");
    let health = app.get("/health").await;
    assert_eq!(
        health.status, 200,
        "a down database alone must not fail /health"
    );
    let v = health.json();
    assert_eq!(v["checks"]["database"], "error");
    assert_eq!(v["status"], "degraded");

    let list = app.get("/api/items").await;
    assert_eq!(list.error_message(503), "database unavailable");
    app.post_json("/api/items", r#"{"name":"early"}"#)
        .await
        .error_message(503);
    let dbcheck = app.get("/db").await;
    assert_eq!(dbcheck.status, 503);
    assert_eq!(dbcheck.json()["status"], "error");

    cluster.start_server();
    // The schema is created and requests succeed without restarting itemsd.
    app.wait_for("/api/items", Duration::from_secs(15), |r| r.status == 200)
        .await;
    let created = app.post_json("/api/items", r#"{"name":"late"}"#).await;
    assert_eq!(created.status, 201, "{}", created.text());
    app.wait_for("/health", Duration::from_secs(5), |r| {
        r.json()["checks"]["database"] == "ok"
    })
    .await;
    assert_eq!(
        app.log_lines("database reachable").len(),
        1,
        "one line per transition"
    );
    app.stop().await;
}

#[tokio::test]
async fn requests_succeed_again_soon_after_a_database_restart() {
    let cluster = Cluster::start();
    let app = TestApp::spawn(&cluster, &[]).await;
    assert_eq!(
        app.post_json("/api/items", r#"{"name":"before"}"#)
            .await
            .status,
        201
    );

    for round in 0..2 {
        cluster.stop_server();
        // While it is down, answers are prompt 503s with the error body, never hangs.
        let down = app.get("/api/items").await;
        assert_eq!(
            down.error_message(503),
            "database unavailable",
            "round {round}"
        );
        cluster.start_server();
        app.wait_for("/api/items", Duration::from_secs(5), |r| {
            assert!(
                r.status == 200 || r.status == 503,
                "only 200 or 503 while recovering, got {}",
                r.status
            );
            r.status == 200
        })
        .await;
        let after = app.post_json("/api/items", r#"{"name":"after"}"#).await;
        assert_eq!(after.status, 201, "round {round}: {}", after.text());
    }
    assert_eq!(app.get("/api/items").await.json()["count"], 3);
    app.stop().await;
}

#[tokio::test]
async fn health_require_db_fails_health_while_the_database_is_down() {
    let cluster = Cluster::start();
    let app = TestApp::spawn(&cluster, &[("HEALTH_REQUIRE_DB", "true")]).await;
    assert_eq!(app.get("/health").await.status, 200);
    cluster.stop_server();
    let v = app
        .wait_for("/health", Duration::from_secs(10), |r| r.status == 503)
        .await
        .json();
    assert_eq!(v["status"], "unhealthy");
    assert_eq!(v["checks"]["database"], "error");
    cluster.start_server();
    app.wait_for("/health", Duration::from_secs(10), |r| r.status == 200)
        .await;
    app.stop().await;
}

#[tokio::test]
async fn instances_booting_together_migrate_once() {
    let cluster = pg::shared();
    let db = cluster.fresh_database().await;
    let (a, b, c) = tokio::join!(
        TestApp::spawn_on(cluster, &db, &[]),
        TestApp::spawn_on(cluster, &db, &[]),
        TestApp::spawn_on(cluster, &db, &[]),
    );
    for app in [&a, &b, &c] {
        let created = app.post_json("/api/items", r#"{"name":"x"}"#).await;
        assert_eq!(created.status, 201, "{}", created.text());
    }
    let client = cluster.connect(&db).await;
    let rows = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("schema_migrations");
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, [1, 2], "each migration applied exactly once");
}

/// Behind RDS Proxy a named prepared statement pins the client's session to one database
/// connection: with `DB_RDS_PROXY` the item routes send unnamed statements only, which the
/// server's statement log tells apart (`execute <unnamed>` against `execute s0`).
#[tokio::test]
async fn behind_rds_proxy_the_item_routes_use_unnamed_statements() {
    let cluster = Cluster::start();
    for (proxy, want, refuse) in [
        ("true", "execute <unnamed>: INSERT INTO items", "execute s"),
        ("false", "execute s", "execute <unnamed>: INSERT INTO items"),
    ] {
        let db = cluster.fresh_database().await;
        cluster
            .execute(
                "postgres",
                &format!("ALTER DATABASE {db} SET log_statement = 'all'"),
            )
            .await;
        let log_path = cluster.dir().join("postgres.log");
        let before = std::fs::metadata(&log_path).map_or(0, |m| m.len() as usize);
        let app = TestApp::spawn_on(&cluster, &db, &[("DB_RDS_PROXY", proxy)]).await;
        let marker = format!("proxy-{proxy}-marker");
        let created = app
            .post_json("/api/items", &format!(r#"{{"name":"{marker}"}}"#))
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let id = created.json()["item"]["id"].as_i64().expect("an id");
        assert_eq!(app.get(&format!("/api/items/{id}")).await.status, 200);
        assert_eq!(app.get("/api/items?limit=5").await.status, 200);
        app.stop().await;

        let log = std::fs::read(&log_path).expect("the server's log");
        // This run's lines: what the server logged since the run began.
        let log = String::from_utf8_lossy(&log[before.min(log.len())..]);
        let run: Vec<&str> = log.lines().collect();
        let items: Vec<&&str> = run
            .iter()
            .filter(|l| l.contains("execute ") && l.contains("items"))
            .collect();
        assert!(
            items.iter().any(|l| l.contains(want)),
            "DB_RDS_PROXY={proxy}: {want:?} in\n{}",
            run.join("\n")
        );
        assert!(
            !items.iter().any(|l| l.contains(refuse)),
            "DB_RDS_PROXY={proxy}: no {refuse:?} in\n{}",
            run.join("\n")
        );
    }
}
