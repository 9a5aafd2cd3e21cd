//! Serving as a role of its own with RDS IAM authentication (`DB_IAM_USER`): the token is the
//! one the AWS SDKs sign, `itemsd migrate` (as the schema's owner) makes the role, and the
//! serving process logs in as it, may read and write items and nothing else, and never reads
//! the master password.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime};

use common::client::Client;
use common::eventually;
use common::moto::{self, Moto};
use common::pg::Cluster;
use common::process::{db_env, itemsd, Process};

const ROLE: &str = "itemsd_app";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+/=";

/// Query parameters of a token, decoded, sorted: SDKs may order them differently.
fn params(token: &str) -> (String, Vec<(String, String)>) {
    let (place, query) = token.split_once('?').expect("a query");
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    (place.to_owned(), pairs)
}

#[test]
fn tokens_are_the_ones_botocore_signs() {
    const AT: u64 = 1_800_000_000;
    let host = "itemsd-dev.abcdefgh.eu-north-1.rds.amazonaws.com";
    let script = format!(
        "import boto3, datetime, json, unittest.mock\n\
         class Frozen(datetime.datetime):\n\
         \x20   @classmethod\n\
         \x20   def utcnow(cls):\n\
         \x20       return datetime.datetime.fromtimestamp({AT}, datetime.timezone.utc).replace(tzinfo=None)\n\
         rds = boto3.client('rds', region_name='{region}', aws_access_key_id='{KEY}',\n\
         \x20   aws_secret_access_key='{SECRET}', aws_session_token='{SESSION}')\n\
         with unittest.mock.patch('botocore.auth.datetime.datetime', Frozen):\n\
         \x20   print(json.dumps(rds.generate_db_auth_token(DBHostname='{host}', Port=5432, DBUsername='{ROLE}')))\n",
        region = moto::REGION,
    );
    let out = Command::new(moto::venv_python())
        .args(["-c", &script])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "botocore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let botocore: String = serde_json::from_slice(&out.stdout).expect("a JSON string");

    let creds =
        aws_credential_types::Credentials::new(KEY, SECRET, Some(SESSION.into()), None, "t");
    let login = itemsd::aws::rds_iam::token::Login {
        host,
        port: 5432,
        user: ROLE,
        region: moto::REGION,
    };
    let ours = itemsd::aws::rds_iam::token::token(
        &login,
        &creds,
        SystemTime::UNIX_EPOCH + Duration::from_secs(AT),
    )
    .expect("signed");
    assert_eq!(
        params(&ours),
        params(&botocore),
        "\nours:     {ours}\nbotocore: {botocore}"
    );
}

/// The serving settings for `db`: IAM login as [`ROLE`], static AWS credentials (signing needs
/// no AWS endpoint), no IMDS.
fn iam_env(cluster: &Cluster, db: &str) -> Vec<(&'static str, String)> {
    let mut env = db_env(cluster, db);
    env.retain(|(k, _)| *k != "DB_PASSWORD");
    env.extend([
        ("DB_IAM_USER", ROLE.to_owned()),
        ("AWS_ACCESS_KEY_ID", KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_owned()),
        ("AWS_REGION", moto::REGION.to_owned()),
        ("INSTANCE_ID", "i-test".to_owned()),
    ]);
    env
}

/// `itemsd migrate` with `env` plus the owner's password; its stdout.
fn migrate(env: &[(&'static str, String)], password: &str) -> String {
    let mut env = env.to_vec();
    env.push(("DB_PASSWORD", password.to_owned()));
    let out = itemsd(&env).arg("migrate").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "migrate failed: {text}");
    text
}

async fn items_served(client: &Client) -> bool {
    client.get("/api/items").await.status == 200
}

#[tokio::test]
async fn serving_logs_in_as_its_own_role_which_may_only_touch_items() {
    let cluster = Cluster::start();
    cluster.trust_over_tls(ROLE).await;
    let db = cluster.fresh_database().await;
    let env = iam_env(&cluster, &db);

    // Started before the migration unit made its role (a boot where the database came up
    // late): not serving items, and healing without a restart once the role exists.
    let mut serve = Process::spawn(itemsd(&env));
    let client = Client::new(serve.addr().await);
    assert_eq!(client.get("/api/items").await.status, 503);

    let said = migrate(&env, common::pg::SUPERUSER_PASSWORD);
    assert!(said.contains("applied [1, 2]"), "{said}");
    assert!(said.contains(ROLE), "{said}");
    eventually(
        "items served as the IAM role",
        Duration::from_secs(20),
        || items_served(&client),
    )
    .await;

    let created = client
        .send(
            "POST",
            "/api/items",
            &[("content-type", "application/json")],
            br#"{"name":"n","value":"1"}"#,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["item"]["id"].as_i64().expect("an id");
    let path = format!("/api/items/{id}");
    assert_eq!(client.get(&path).await.status, 200);
    assert_eq!(client.send("DELETE", &path, &[], b"").await.status, 204);

    let owner = cluster.connect(&db).await;
    let users: Vec<String> = owner
        .query(
            "SELECT DISTINCT usename::text FROM pg_stat_activity \
             WHERE application_name = 'itemsd' AND datname = $1",
            &[&db],
        )
        .await
        .expect("pg_stat_activity")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(users, [ROLE], "every serving connection is the IAM role");

    // What the role may not do: change the schema, or read what is not its own.
    let url = format!(
        "host=127.0.0.1 port={} user={ROLE} dbname={db} sslmode=require",
        cluster.port
    );
    let (app, conn) = url
        .parse::<tokio_postgres::Config>()
        .expect("config")
        .connect(common::pg::verifying_connector())
        .await
        .expect("the role logs in");
    tokio::spawn(conn);
    for sql in [
        "DROP TABLE items",
        "CREATE TABLE other (id int)",
        "ALTER TABLE items ADD COLUMN x int",
        "CREATE ROLE intruder",
        "SELECT * FROM pg_authid",
    ] {
        let err = app.batch_execute(sql).await.expect_err(sql);
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
    }
    serve.signal(libc::SIGTERM);
    assert_eq!(
        serve.wait_exit(Duration::from_secs(20)).await,
        0,
        "{}",
        serve.output()
    );
}

#[tokio::test]
async fn with_iam_login_the_master_password_is_never_read() {
    let cluster = Cluster::start();
    cluster.trust_over_tls(ROLE).await;
    let db = cluster.fresh_database().await;
    let owner_env = iam_env(&cluster, &db);
    migrate(&owner_env, common::pg::SUPERUSER_PASSWORD);

    // The connection secret points at a master secret that does not exist: a serving process
    // that asked for it would have no credentials at all.
    let moto = Moto::start().await;
    let arn = moto
        .create_secret(
            "itemsd/connection",
            &serde_json::json!({
                "host": "127.0.0.1", "port": cluster.port.to_string(), "dbname": db,
                "username": "postgres",
                "masterUserSecretArn": "arn:aws:secretsmanager:eu-north-1:123456789012:secret:rds!db-gone"
            })
            .to_string(),
        )
        .await;
    let mut env: Vec<_> = owner_env
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .collect();
    env.extend(moto.env());
    env.push(("DB_SECRET_ARN", arn));
    let mut serve = Process::spawn(itemsd(&env));
    let client = Client::new(serve.addr().await);
    eventually("items served", Duration::from_secs(20), || {
        items_served(&client)
    })
    .await;
    assert!(
        !serve.output().contains("rds!db-gone"),
        "the master secret was asked for: {}",
        serve.output()
    );
}
