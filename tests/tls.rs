//! TLS to PostgreSQL, with libpq's `sslmode` meanings, against a TLS-only cluster (hostssl and
//! SCRAM, as RDS with `rds.force_ssl`) and a cluster without TLS, through `itemsd check` on the
//! real binary: what each mode does and the one line an operator reads when it fails.

mod common;

use common::pg::{self, Cluster};
use common::process::{base_env, itemsd};

/// `itemsd check` with `overrides` on top of the cluster's settings; the exit status and
/// what it printed.
fn check(cluster: &Cluster, db: &str, overrides: &[(&'static str, String)]) -> (bool, String) {
    let mut env = base_env();
    env.extend(
        cluster
            .env(db)
            .into_iter()
            // Each case says its own TLS settings.
            .filter(|(k, _)| !k.starts_with("DB_SSL") && !overrides.iter().any(|(o, _)| o == k)),
    );
    env.extend(overrides.iter().cloned());
    let out = itemsd(&env)
        .arg("check")
        .output()
        .expect("itemsd check runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The schema is never migrated here: "database" reaching the server is what counts.
    let connected = text.contains("ok    database   PostgreSQL");
    (connected, text)
}

/// Settings on top of the cluster's.
type Settings = Vec<(&'static str, String)>;

fn mode(m: &str) -> (&'static str, String) {
    ("DB_SSLMODE", m.to_owned())
}

fn root(path: &std::path::Path) -> (&'static str, String) {
    ("DB_SSLROOTCERT", path.display().to_string())
}

fn host(h: &str) -> (&'static str, String) {
    ("DB_HOST", h.to_owned())
}

#[tokio::test]
async fn every_sslmode_against_a_tls_only_server() {
    let cluster = Cluster::start();
    let db = cluster.fresh_database().await;
    let pki = pg::pki();
    let ca = root(&pki.ca());
    let other = root(&pki.other_ca());

    // (settings, connects, what the output must say)
    let cases: Vec<(Settings, bool, &str)> = vec![
        (
            vec![mode("disable")],
            false,
            "the server requires TLS: DB_SSLMODE=disable is refused",
        ),
        (
            vec![mode("prefer")],
            true,
            "ok    tls        prefer: TLSv1.",
        ),
        (
            vec![mode("require")],
            true,
            "ok    tls        require: TLSv1.",
        ),
        (
            vec![mode("verify-ca"), ca.clone()],
            true,
            "ok    tls        verify-ca with",
        ),
        (
            vec![mode("verify-full"), ca.clone()],
            true,
            "ok    tls        verify-full with",
        ),
        // The certificate names localhost as well as 127.0.0.1.
        (
            vec![mode("verify-full"), ca.clone(), host("localhost")],
            true,
            "TLSv1.",
        ),
        // A wrong CA: refused whenever the chain is checked; libpq's rule makes `require` with
        // a bundle check the chain too.
        (
            vec![mode("verify-full"), other.clone()],
            false,
            "unknown issuer: the server's certificate does not lead to a CA in DB_SSLROOTCERT",
        ),
        (
            vec![mode("verify-ca"), other.clone()],
            false,
            "unknown issuer",
        ),
        (
            vec![mode("require"), other.clone()],
            false,
            "unknown issuer",
        ),
        // A name the certificate does not hold: only verify-full looks at it.
        (
            vec![mode("verify-full"), ca.clone(), host("127.0.0.2")],
            false,
            "name mismatch: the server's certificate does not name DB_HOST",
        ),
        (
            vec![mode("verify-ca"), ca.clone(), host("127.0.0.2")],
            true,
            "TLSv1.",
        ),
    ];
    for (settings, connects, says) in cases {
        let (connected, text) = check(&cluster, &db, &settings);
        assert_eq!(connected, connects, "{settings:?}:\n{text}");
        assert!(
            text.contains(says),
            "{settings:?} must say {says:?}:\n{text}"
        );
    }
}

#[tokio::test]
async fn without_tls_on_the_server_prefer_falls_back_and_require_refuses() {
    let cluster = Cluster::start_plain();
    let db = cluster.fresh_database().await;
    let ca = root(&pg::pki().ca());

    let (connected, text) = check(&cluster, &db, &[mode("prefer")]);
    assert!(connected, "{text}");
    assert!(text.contains("prefer: not encrypted"), "{text}");
    let (connected, text) = check(&cluster, &db, &[mode("disable")]);
    assert!(connected, "{text}");
    assert!(text.contains("disable: not encrypted"), "{text}");
    for strict in ["require", "verify-ca", "verify-full"] {
        let (connected, text) = check(&cluster, &db, &[mode(strict), ca.clone()]);
        assert!(!connected, "{strict}: {text}");
        assert!(
            text.contains("the server refused TLS (it runs with ssl=off)"),
            "{strict}: {text}"
        );
    }
}

#[test]
fn bad_tls_settings_exit_64_naming_the_variable() {
    let cases = [
        (vec![mode("allow")], "DB_SSLMODE"),
        (vec![mode("verify-full")], "DB_SSLROOTCERT"),
        (
            vec![
                mode("verify-full"),
                ("DB_SSLROOTCERT", "/nonexistent/ca.pem".into()),
            ],
            "DB_SSLROOTCERT",
        ),
        // A file that is not a PEM bundle.
        (
            vec![mode("verify-ca"), ("DB_SSLROOTCERT", "Cargo.toml".into())],
            "DB_SSLROOTCERT",
        ),
    ];
    for (env, name) in cases {
        let out = itemsd(&env).arg("check").output().expect("itemsd runs");
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{env:?}: {text}");
        assert!(text.contains(name), "{env:?} must name {name}: {text}");
        assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
    }
}

#[tokio::test]
async fn scram_uses_channel_binding_over_tls() {
    let cluster = pg::shared();
    // Requiring channel binding fails the connection unless SCRAM-SHA-256-PLUS was used, which
    // needs the tls-server-end-point binding from itemsd's connector.
    let mut config: tokio_postgres::Config = cluster.url("postgres").parse().expect("valid");
    config.channel_binding(tokio_postgres::config::ChannelBinding::Require);
    let (client, conn) = config
        .connect(pg::verifying_connector())
        .await
        .expect("SCRAM-SHA-256-PLUS over TLS");
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("query");
    assert!(row.get::<_, bool>(0), "the session is encrypted");
}
