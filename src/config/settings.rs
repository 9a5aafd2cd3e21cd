//! Every setting itemsd reads, once: its name, default, meaning, a valid example and whether it
//! is a secret. The parser ([`super::Config::from_lookup`]) reads only names listed here (a
//! debug assertion), `itemsd check` prints every row, and the README's configuration table is
//! rendered from it ([`markdown`]; a test fails when the two differ).

/// One environment variable.
pub struct Setting {
    pub name: &'static str,
    /// As shown to people: a literal value in backticks, or what happens when unset.
    pub default: &'static str,
    /// What it does, in Markdown.
    pub meaning: &'static str,
    /// A valid value, for the tests that set every variable at once.
    pub example: &'static str,
    /// Never printed: `itemsd check` shows only whether it is set.
    pub secret: bool,
}

const fn s(
    name: &'static str,
    default: &'static str,
    meaning: &'static str,
    example: &'static str,
) -> Setting {
    Setting {
        name,
        default,
        meaning,
        example,
        secret: false,
    }
}

/// In the README's order: the service, identity, AWS, the database, HTTP, health, shutdown.
pub const SETTINGS: &[Setting] = &[
    s("APPLICATION_PORT", "`5001`", "listening port (`0` picks a free one)", "5001"),
    s("BIND_ADDRESS", "`0.0.0.0`", "listening address", "127.0.0.1"),
    s("ENVIRONMENT", "`dev`", "reported by `/` and `/metrics`", "prod"),
    s("APP_VERSION", "the crate version", "reported by `/`, `/health`, `/metrics`", "1.2.3"),
    s("INSTANCE_ID", "from IMDS, else the host name", "identity in responses, headers, logs, the log stream and metric dimensions", "i-0123456789abcdef0"),
    s("INSTANCE_IP", "from IMDS, else `127.0.0.1`", "reported by `/` and `/health`", "10.0.10.5"),
    s("AVAILABILITY_ZONE", "from IMDS, else `local`", "reported by `/` and `/health`", "eu-north-1a"),
    s("AUTOSCALING_GROUP_NAME", "from IMDS metadata tags", "the group, for logs and metric dimensions", "itemsd-dev"),
    s("AWS_REGION", "from IMDS", "region for the AWS duties; required (exit 64) when one is on and IMDS is absent", "eu-north-1"),
    s("AWS_DEFAULT_REGION", "unset", "read when `AWS_REGION` is unset, as the SDKs do", "eu-north-1"),
    s("AWS_EC2_METADATA_DISABLED", "`false`", "the SDK's own switch: `true` skips IMDS (off EC2, in tests)", "true"),
    s("AWS_EC2_METADATA_SERVICE_ENDPOINT", "the link-local address", "where IMDS is (a stand-in, in tests)", "http://127.0.0.1:1338"),
    s("DB_SECRET_ARN", "unset", "read the database credentials from this secret instead of `DB_*` (see below)", "arn:aws:secretsmanager:eu-north-1:123456789012:secret:itemsd"),
    s("DB_SECRET_REFRESH_SECONDS", "`900`", "read the secret again this often, besides after an authentication failure", "900"),
    s("CLOUDWATCH_LOG_GROUP", "unset (stdout only)", "also ship every log line to this group", "/itemsd/dev"),
    s("CLOUDWATCH_LOG_STREAM", "the instance id", "the stream", "i-0123456789abcdef0"),
    s("CLOUDWATCH_LOG_BUFFER_BYTES", "`8388608`", "bound on log bytes waiting to be shipped; beyond it the oldest are dropped and counted", "8388608"),
    s("CLOUDWATCH_LOG_FLUSH_MS", "`5000`", "longest a line waits before a call ships it (sooner when half a batch is waiting)", "5000"),
    s("CLOUDWATCH_RETRY_BACKOFF_CAP_MS", "`20000`", "longest wait between retries of a failed PutLogEvents or PutMetricData (jittered, doubling from 200 ms)", "20000"),
    s("AWS_ATTEMPT_TIMEOUT_MS", "`10000`", "longest one attempt of one AWS API call may take, answer included (the SDK retries it)", "10000"),
    s("CLOUDWATCH_NAMESPACE", "unset (no metrics)", "publish metrics under this namespace (the Terraform uses `Itemsd`)", "Itemsd"),
    s("CLOUDWATCH_METRICS_INTERVAL_SECONDS", "`60`", "publishing interval", "60"),
    s("DB_HOST", "`localhost`", "the database host", "db.internal"),
    s("DB_PORT", "`5432`", "the database port", "5432"),
    s("DB_NAME", "`appdb`", "the database", "appdb"),
    s("DB_USER", "`postgres`", "the login role (the schema's owner, with `DB_IAM_USER` set)", "itemsd_admin"),
    Setting {
        secret: true,
        ..s("DB_PASSWORD", "empty", "its password, for local development (on AWS it comes from `DB_SECRET_ARN`); never printed or logged", "local-dev-password")
    },
    s("DB_SSLMODE", "`prefer`", "TLS to the database, with libpq's meanings: `disable`, `prefer` (TLS when the server offers it, unverified; plain text only when the server refuses TLS), `require` (encrypted; the chain is checked only when `DB_SSLROOTCERT` is set, as libpq does), `verify-ca` (the chain), `verify-full` (the chain and the host name, DNS or IP). The AMI's settings use `verify-full`", "require"),
    s("DB_SSLROOTCERT", "unset", "PEM bundle of the CAs to verify against; required by `verify-ca` and `verify-full` (the AMI installs the RDS global bundle at `/usr/local/share/itemsd/rds-global-bundle.pem`). Unreadable, or holding no certificate: exit 64 naming it", ""),
    s("DB_IAM_USER", "unset", "`serve` and `check` log in as this PostgreSQL role with RDS IAM authentication tokens instead of a password (needs `DB_SSLMODE` `require` or stronger; host, port and database still come from `DB_*` or the connection secret, whose password is then never read); `migrate` logs in as the owner and makes the role (see below). The Terraform writes `itemsd_app`", "itemsd_app"),
    s("DB_RDS_PROXY", "`false`", "the database is reached through RDS Proxy: itemsd then sends no startup options (the proxy refuses `options`; the Terraform's proxy sets `statement_timeout` in its initialisation query) and runs the item routes' statements unnamed (a named prepared statement pins the proxy's session). The Terraform sets it with `enable_db_proxy`", "true"),
    s("DB_POOL_MIN_CONN", "`2`", "connections opened at start and kept while the database is up", "2"),
    s("DB_POOL_MAX_CONN", "`10`", "the pool's bound (1..=1000)", "10"),
    s("DB_CONNECT_TIMEOUT_SECONDS", "`5`", "connect timeout per connection", "5"),
    s("DB_STATEMENT_TIMEOUT_MS", "`5000`", "server-side `statement_timeout` on every connection", "5000"),
    s("DB_SHARED_CONNECTIONS", "`2` (at most `DB_POOL_MAX_CONN` − 1)", "pool connections the item routes share, their statements pipelined (one statement per request, no transactions); `0` gives each request a connection of its own. Shared, a list request costs PostgreSQL and itemsd less than one with a connection of its own: +14 % to +33 % requests/s on the list route across three benchmark runs (docs/PERFORMANCE.md)", "2"),
    s("DB_POOL_WAIT_TIMEOUT_MS", "`2000`", "how long a request waits for a pooled connection before 503", "2000"),
    s("HTTP_IDLE_TIMEOUT_SECONDS", "`75`", "idle keep-alive and request-head timeout: a connection without a request for this long is closed (within a quarter more); above the ALB's 60 s so the ALB closes idle connections first (otherwise it may reuse one being closed and answer 502)", "75"),
    s("HTTP_BODY_TIMEOUT_SECONDS", "`10`", "time to receive a request body", "10"),
    s("HTTP_MAX_CONCURRENT_REQUESTS", "`1024`", "requests in flight before 503 + `Retry-After`", "1024"),
    s("HEALTH_REQUIRE_DB", "`false`", "when true, `/health` answers 503 while the database is down", "true"),
    s("HEALTH_PROBE_INTERVAL_SECONDS", "`5`", "database probe interval (every second while it is down)", "5"),
    s("SHUTDOWN_DELAY_SECONDS", "`25`", "pre-stop delay: keep serving after SIGTERM while `/health` fails", "25"),
    s("SHUTDOWN_TIMEOUT_SECONDS", "`30`", "drain deadline for in-flight requests", "30"),
    s("LOG_LEVEL", "`INFO`", "`DEBUG`, `INFO`, `WARN` or `ERROR`", "WARN"),
];

/// The row of `name`, if itemsd reads it.
pub fn find(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// The README's configuration table.
pub fn markdown() -> String {
    let mut out = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for s in SETTINGS {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            s.name, s.default, s.meaning
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the README's table starts and ends.
    const HEAD: &str = "| variable | default | meaning |\n";

    #[test]
    fn the_readme_table_is_the_settings_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let start = readme
            .find(HEAD)
            .expect("the README has the configuration table");
        let end = readme[start..]
            .find("\n\n")
            .map_or(readme.len(), |e| start + e + 1);
        let table = markdown();
        if readme[start..end] != table && std::env::var_os("ITEMSD_UPDATE_README").is_some() {
            let updated = format!("{}{table}{}", &readme[..start], &readme[end..]);
            std::fs::write(path, updated).expect("README.md written");
            return;
        }
        assert!(
            readme[start..end] == table,
            "README.md's configuration table differs from src/config/settings.rs; \
             ITEMSD_UPDATE_README=1 cargo test --lib readme rewrites it"
        );
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in SETTINGS.iter().enumerate() {
            assert!(
                SETTINGS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
    }
}
