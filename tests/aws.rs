//! The agent duties against local stand-ins that speak the real protocols: an IMDSv2 stand-in
//! (token required) and moto's server for Secrets Manager, with the real binary where the
//! process environment matters.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::app::TestApp;
use common::client::Client;
use common::imds::Imds;
use common::moto::Moto;
use common::pg::{self, Cluster};
use common::process::{base_env, itemsd, Process};
use common::{eventually, eventually_ok};

#[tokio::test]
async fn identity_comes_from_imds_v2_with_a_token() {
    let imds = Imds::start(&[
        ("instance-id", "i-0123456789abcdef0"),
        ("local-ipv4", "10.0.10.5"),
        ("placement/availability-zone", "eu-north-1b"),
        ("placement/region", "eu-north-1"),
        ("instance-type", "t3.micro"),
        ("ami-id", "ami-0abc"),
        ("tags/instance/aws:autoscaling:groupName", "itemsd-dev"),
    ])
    .await;
    let endpoint = imds.endpoint();
    let app = TestApp::spawn(
        pg::shared(),
        &[
            ("AWS_EC2_METADATA_DISABLED", "false"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint),
            ("INSTANCE_ID", ""),
        ],
    )
    .await;
    let resp = app.get("/").await;
    let v = resp.json();
    assert_eq!(v["instance_id"], "i-0123456789abcdef0");
    assert_eq!(v["instance_ip"], "10.0.10.5");
    assert_eq!(v["availability_zone"], "eu-north-1b");
    assert_eq!(resp.header("x-instance-id"), Some("i-0123456789abcdef0"));
    let health = app.get("/health").await.json();
    assert_eq!(health["instance"]["az"], "eu-north-1b");
    assert!(
        imds.counts.tokens.load(Ordering::Relaxed) >= 1,
        "a token was asked for"
    );
    assert!(imds.counts.answered.load(Ordering::Relaxed) >= 7);
    assert_eq!(
        imds.counts.unauthorized.load(Ordering::Relaxed),
        0,
        "every metadata GET carried the token"
    );
}

#[tokio::test]
async fn configuration_overrides_imds() {
    let imds = Imds::start(&[("instance-id", "i-from-imds")]).await;
    let endpoint = imds.endpoint();
    let app = TestApp::spawn(
        pg::shared(),
        &[
            ("AWS_EC2_METADATA_DISABLED", "false"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint),
            ("INSTANCE_ID", "i-from-env"),
        ],
    )
    .await;
    assert_eq!(app.get("/").await.json()["instance_id"], "i-from-env");
}

#[tokio::test]
async fn without_imds_start_up_is_not_held_up() {
    // One endpoint that never answers (accepts into the backlog, never reads) and the real
    // link-local address, which does not exist here.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_endpoint = format!("http://{}", silent.local_addr().expect("addr"));
    for endpoint in [silent_endpoint.as_str(), "http://169.254.169.254"] {
        let started = Instant::now();
        let app = TestApp::spawn(
            pg::shared(),
            &[
                ("AWS_EC2_METADATA_DISABLED", "false"),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint),
                ("INSTANCE_ID", ""),
            ],
        )
        .await;
        // Bounded by the metadata budget, not the SDK's own timeouts and retries (several
        // seconds per call); the margin is a loaded machine's, not itemsd's.
        let took = started.elapsed();
        let bound = itemsd::aws::resolve::IMDS_BUDGET + Duration::from_secs(3);
        assert!(took < bound, "{endpoint}: start-up took {took:?}");
        let v = app.get("/").await.json();
        assert_eq!(
            v["availability_zone"], "local",
            "{endpoint}: falls back to configuration"
        );
        assert_eq!(
            app.log_lines("no instance metadata; identity from configuration")
                .len(),
            1,
            "one quiet line, not an error"
        );
    }
}

/// A login role and a database it owns, for credentials that can rotate.
async fn role_and_database(cluster: &Cluster, password: &str) -> (String, String) {
    let db = cluster.fresh_database().await;
    let role = format!("{db}_app");
    cluster
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {role} LOGIN PASSWORD '{password}'; ALTER DATABASE {db} OWNER TO {role}"
            ),
        )
        .await;
    (role, db)
}

fn serve_env(moto: &Moto, secret_arn: &str) -> Vec<(&'static str, String)> {
    let mut env = base_env();
    env.extend(moto.env());
    env.extend([
        ("DB_SECRET_ARN", secret_arn.to_owned()),
        ("INSTANCE_ID", "i-test".to_owned()),
    ]);
    env.extend(pg::tls_env());
    env
}

async fn wait_until_serving(client: &Client) {
    eventually_ok("items served", Duration::from_secs(15), || async move {
        let r = client.get("/api/items").await;
        if r.status == 200 {
            Ok(())
        } else {
            Err(format!("{} {}", r.status, r.text()))
        }
    })
    .await;
}

#[tokio::test]
async fn a_secret_unreadable_at_start_is_picked_up_once_it_exists() {
    let cluster = pg::shared();
    let moto = Moto::start().await;
    let (role, db) = role_and_database(cluster, "late-pw").await;
    // Named, not an ARN: Secrets Manager takes either, and the secret does not exist yet.
    let env = serve_env(&moto, "itemsd/late");
    let mut proc = Process::spawn(itemsd(&env));
    let client = Client::new(proc.addr().await);
    proc.wait_for_log(
        "could not read database credentials",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(client.get("/api/items").await.status, 503);

    moto.create_secret(
        "itemsd/late",
        &serde_json::json!({
            "host": "127.0.0.1", "port": cluster.port, "dbname": db,
            "username": role, "password": "late-pw"
        })
        .to_string(),
    )
    .await;
    // No restart: the connections ask for the secret again while there are no credentials.
    wait_until_serving(&client).await;
    proc.read_available();
    let output = proc.output();
    let failed_reads: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("could not read database credentials"))
        .collect();
    assert_eq!(
        failed_reads.len(),
        1,
        "the failure is said once, not per attempt: {failed_reads:#?}"
    );
}

#[tokio::test]
async fn a_secrets_manager_that_hangs_does_not_hold_start_up_past_the_units_timeout() {
    let moto = Moto::start().await;
    let arn = moto.create_secret("itemsd/hung", "{}").await;
    // Frozen: connections are accepted by the kernel, nothing answers.
    moto.signal(libc::SIGSTOP);
    let mut proc = Process::spawn(itemsd(&serve_env(&moto, &arn)));
    // systemd's TimeoutStartSec=30s in systemd/itemsd.service: READY (listening) comes before.
    let line = proc
        .wait_for_log("itemsd listening", Duration::from_secs(25))
        .await;
    assert_eq!(line["database"], "error", "{line}");
    moto.signal(libc::SIGCONT);
}

#[tokio::test]
async fn a_full_secret_gives_the_database() {
    let cluster = pg::shared();
    let moto = Moto::start().await;
    let (role, db) = role_and_database(cluster, "full-pw").await;
    let arn = moto
        .create_secret(
            "itemsd/full",
            &serde_json::json!({
                "host": "127.0.0.1", "port": cluster.port, "dbname": db,
                "username": role, "password": "full-pw"
            })
            .to_string(),
        )
        .await;
    let env = serve_env(&moto, &arn);

    let out = itemsd(&env).arg("check").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ok    secret"), "{text}");
    assert!(
        !text.contains("full-pw"),
        "the password is never printed: {text}"
    );

    let mut proc = Process::spawn(itemsd(&env));
    let client = Client::new(proc.addr().await);
    wait_until_serving(&client).await;
    let created = client
        .send(
            "POST",
            "/api/items",
            &[("content-type", "application/json")],
            br#"{"name":"s"}"#,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert!(
        !proc.output().contains("full-pw"),
        "the password is never logged"
    );
}

#[tokio::test]
async fn the_original_connection_secret_points_at_the_rds_managed_one() {
    let cluster = pg::shared();
    let moto = Moto::start().await;
    let (role, db) = role_and_database(cluster, "managed-pw").await;
    let managed = moto
        .create_secret(
            "rds!db-managed",
            &serde_json::json!({"username": role, "password": "managed-pw"}).to_string(),
        )
        .await;
    let arn = moto
        .create_secret(
            "itemsd/connection",
            &serde_json::json!({
                "host": "127.0.0.1", "port": cluster.port.to_string(), "dbname": db,
                "username": role, "masterUserSecretArn": managed
            })
            .to_string(),
        )
        .await;
    let out = itemsd(&serve_env(&moto, &arn))
        .arg("migrate")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("applied [1, 2]"), "{text}");
}

#[tokio::test]
async fn a_missing_or_malformed_secret_is_named_and_fails_the_check() {
    let moto = Moto::start().await;
    let malformed = moto.create_secret("itemsd/bad", "{not json").await;
    let cases = [
        (
            "arn:aws:secretsmanager:eu-north-1:123456789012:secret:itemsd/absent-AbCdEf".to_owned(),
            "ResourceNotFound",
        ),
        (malformed, "not valid JSON"),
    ];
    for (arn, expected) in cases {
        let out = itemsd(&serve_env(&moto, &arn))
            .arg("check")
            .output()
            .expect("runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{arn}: {text}");
        let fail = text
            .lines()
            .find(|l| l.starts_with("FAIL  secret"))
            .unwrap_or_else(|| panic!("{arn}: no FAIL line for the secret: {text}"));
        assert!(
            fail.contains(&arn) || fail.contains("itemsd/"),
            "names the secret: {fail}"
        );
        assert!(fail.contains(expected), "says why ({expected}): {fail}");
    }
}

#[test]
fn a_secret_without_a_region_is_a_configuration_error() {
    let mut env = base_env();
    env.push((
        "DB_SECRET_ARN",
        "arn:aws:secretsmanager:x:1:secret:y".to_owned(),
    ));
    let out = itemsd(&env).output().expect("runs");
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AWS_REGION"));
}

// Multi-threaded: the load tasks run beside the test's own waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_password_is_followed_without_restart() {
    let cluster = pg::shared();
    let moto = Moto::start().await;
    let (role, db) = role_and_database(cluster, "pw-before").await;
    let login = |pw: &str| serde_json::json!({"username": role, "password": pw}).to_string();
    let managed = moto
        .create_secret("rds!rotating", &login("pw-before"))
        .await;
    let arn = moto
        .create_secret(
            "itemsd/rotating",
            &serde_json::json!({
                "host": "127.0.0.1", "port": cluster.port, "dbname": db,
                "username": role, "masterUserSecretArn": managed
            })
            .to_string(),
        )
        .await;
    let mut env = serve_env(&moto, &arn);
    env.extend([
        ("DB_POOL_MIN_CONN", "2".to_owned()),
        ("DB_POOL_MAX_CONN", "4".to_owned()),
    ]);
    let mut proc = Process::spawn(itemsd(&env));
    let client = Client::new(proc.addr().await);
    wait_until_serving(&client).await;

    // Steady writes from two clients while the password rotates underneath.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let created_so_far = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut loads = Vec::new();
    for _ in 0..2 {
        let client = client.clone();
        let stop = Arc::clone(&stop);
        let created_so_far = Arc::clone(&created_so_far);
        loads.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .try_send(
                        "POST",
                        "/api/items",
                        &[("content-type", "application/json")],
                        br#"{"name":"r"}"#,
                    )
                    .await;
                let status = r.map(|r| r.status.as_u16()).unwrap_or(0);
                if status == 201 {
                    created_so_far.fetch_add(1, Ordering::Relaxed);
                }
                statuses.push(status);
            }
            statuses
        }));
    }
    let created_after = |n: u64| {
        let created_so_far = Arc::clone(&created_so_far);
        move || {
            let created_so_far = Arc::clone(&created_so_far);
            async move { created_so_far.load(Ordering::Relaxed) >= n }
        }
    };
    // Rotate as soon as the load runs: within a second of the start-up read, where a read
    // prompted by the refused password must still happen (it once handed the old one back).
    eventually(
        "the load is writing",
        Duration::from_secs(10),
        created_after(10),
    )
    .await;
    cluster
        .execute(
            "postgres",
            &format!("ALTER ROLE {role} PASSWORD 'pw-after'"),
        )
        .await;
    moto.put_secret(&managed, &login("pw-after")).await;
    // Existing sessions outlive a password change; end them so new ones must log in.
    let ended: i64 = cluster
        .connect("postgres")
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1",
            &[&role],
        )
        .await
        .expect("terminate")
        .get(0);
    assert!(ended >= 1, "itemsd's sessions were ended");
    proc.wait_for_log(
        "database authentication failed: reading the secret again",
        Duration::from_secs(10),
    )
    .await;
    let before = created_so_far.load(Ordering::Relaxed);
    eventually(
        "writes go on with the new password",
        Duration::from_secs(10),
        created_after(before + 20),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut statuses = Vec::new();
    for load in loads {
        statuses.extend(load.await.expect("load task"));
    }
    let failed = statuses.iter().filter(|s| **s != 201).count();
    assert!(
        statuses.len() > 20,
        "steady load ran: {} requests",
        statuses.len()
    );
    assert!(
        failed <= 4,
        "at most the requests in flight on the 4 terminated connections fail; {failed} of {} did",
        statuses.len()
    );
    let created = statuses.iter().filter(|s| **s == 201).count() as i64;
    let rows: i64 = cluster
        .connect(&db)
        .await
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows, created, "every 201 is a row");
    // And it keeps working with the new password.
    let after = client
        .send(
            "POST",
            "/api/items",
            &[("content-type", "application/json")],
            br#"{"name":"z"}"#,
        )
        .await;
    assert_eq!(after.status, 201, "{}", after.text());
}

#[tokio::test]
async fn the_secret_is_read_again_on_a_schedule() {
    let cluster = pg::shared();
    let moto = Moto::start().await;
    let (role, db) = role_and_database(cluster, "pw-1").await;
    let arn = moto
        .create_secret(
            "itemsd/scheduled",
            &serde_json::json!({
                "host": "127.0.0.1", "port": cluster.port, "dbname": db,
                "username": role, "password": "pw-1"
            })
            .to_string(),
        )
        .await;
    let mut env = serve_env(&moto, &arn);
    env.push(("DB_SECRET_REFRESH_SECONDS", "1".to_owned()));
    let mut proc = Process::spawn(itemsd(&env));
    proc.addr().await;
    proc.wait_for_log_count(
        "database credentials read from Secrets Manager",
        1,
        Duration::from_secs(5),
    )
    .await;
    moto.put_secret(
        &arn,
        &serde_json::json!({
            "host": "127.0.0.1", "port": cluster.port, "dbname": db,
            "username": role, "password": "pw-2"
        })
        .to_string(),
    )
    .await;
    // Logged only when what was read differs: the scheduled read saw the new value.
    proc.wait_for_log_count(
        "database credentials read from Secrets Manager",
        2,
        Duration::from_secs(10),
    )
    .await;
}
