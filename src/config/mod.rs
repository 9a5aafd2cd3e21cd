//! Configuration: read once from the environment into a validated [`Config`].
//!
//! The variable names are the original Flask app's (`APPLICATION_PORT`, `DB_HOST`, ...) so that
//! existing environment files keep working. Every name read is a row of [`settings::SETTINGS`],
//! which `itemsd check` prints and the README's configuration table is rendered from. Nothing
//! else in the crate reads the environment.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::telemetry::log::Level;

pub mod settings;

/// Largest pool anyone should configure: PostgreSQL's default `max_connections` is 100 and RDS
/// small classes allow fewer, so a bigger value is a typo, not a plan.
const MAX_POOL_CONNECTIONS: usize = 1000;
/// Connections the request path shares by default: two keep both of a small instance's cores
/// busy on the database side while each carries a pipeline (docs/PERFORMANCE.md).
const DEFAULT_SHARED_CONNECTIONS: usize = 2;

/// A configuration value that must never be printed: `Debug` and `Display` mask it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The only way to read the value; grep for it to audit where secrets go.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "(empty)"
        } else {
            "********"
        })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Everything itemsd needs to know, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub http: HttpConfig,
    pub db: DbConfig,
    pub app: AppConfig,
    pub aws: AwsConfig,
    pub shutdown: ShutdownConfig,
    pub health: HealthConfig,
    pub log_level: Level,
    /// Every row of [`settings::SETTINGS`] as `itemsd check` shows it (secrets masked), taken
    /// when the environment was read.
    shown: Vec<(&'static str, String)>,
}

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub bind_address: IpAddr,
    pub port: u16,
    /// Longest a keep-alive connection may sit idle (and longest a client may take to send its
    /// headers): above the ALB's 60 s idle timeout so the ALB, not itemsd, closes idle
    /// connections; otherwise the ALB may reuse a connection being closed and answer 502.
    pub idle_timeout: Duration,
    /// Longest a client may take to send a request body once its headers arrived.
    pub body_timeout: Duration,
    /// Requests served at once; beyond it itemsd answers 503 with `Retry-After` at once.
    pub max_concurrent_requests: usize,
}

#[derive(Clone, Debug)]
pub struct DbConfig {
    pub host: String,
    pub port: u16,
    pub name: String,
    pub user: String,
    pub password: Secret,
    pub pool_min: usize,
    pub pool_max: usize,
    /// Pool connections shared by concurrent requests, their statements pipelined
    /// (`db::shared`); 0 gives each request a connection of its own. Below `pool_max`, so the
    /// health probe and `/db` always find one.
    pub shared_connections: usize,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    /// Longest a request waits for a pooled connection before it answers 503.
    pub pool_wait_timeout: Duration,
    /// TLS to the database (`DB_SSLMODE`, `DB_SSLROOTCERT`, with libpq's meanings).
    pub tls: DbTls,
    /// `DB_RDS_PROXY`: the database is reached through RDS Proxy, which refuses the `options`
    /// startup parameter (so the statement timeout is the proxy's initialisation query's to
    /// set) and pins every session that prepares a named statement (so the request path uses
    /// unnamed ones).
    pub behind_proxy: bool,
    /// `DB_IAM_USER`: `serve` and `check` log in as this role with RDS IAM authentication
    /// tokens instead of a password (`aws::rds_iam`), and `migrate`, logging in as the
    /// schema's owner, makes the role and grants it what serving needs.
    pub iam_user: Option<String>,
}

/// libpq's `sslmode` values, with its meanings (`db::tls` has the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

#[derive(Clone, Debug)]
pub struct DbTls {
    pub mode: SslMode,
    /// The CA bundle, read and parsed once at start-up so that a bad file is a configuration
    /// error (exit 64), not a failure of every connection.
    pub root_cert: Option<RootCerts>,
}

impl DbTls {
    pub fn root_certs(&self) -> &[CertificateDer<'static>] {
        self.root_cert.as_ref().map_or(&[], |r| &r.certs[..])
    }

    /// For `itemsd check` and the start-up line: the mode and the bundle.
    pub fn describe(&self) -> String {
        match &self.root_cert {
            Some(r) => format!(
                "{} with {} ({} certificates)",
                self.mode.as_str(),
                r.path.display(),
                r.certs.len()
            ),
            None => self.mode.as_str().to_owned(),
        }
    }
}

#[derive(Clone)]
pub struct RootCerts {
    pub path: PathBuf,
    pub certs: Arc<[CertificateDer<'static>]>,
}

impl fmt::Debug for RootCerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} certificates)",
            self.path.display(),
            self.certs.len()
        )
    }
}

/// Who this process is, as configured. Each identity value set here wins over what IMDS says.
#[derive(Clone, Debug)]
pub struct AppConfig {
    pub version: String,
    pub environment: String,
    pub hostname: String,
    pub instance_id: Option<String>,
    pub instance_ip: Option<String>,
    pub availability_zone: Option<String>,
    pub autoscaling_group: Option<String>,
}

/// The AWS duties; each is off unless configured, so a laptop run needs no AWS.
#[derive(Clone, Debug)]
pub struct AwsConfig {
    /// `AWS_REGION`; when unset, the region IMDS reports.
    pub region: Option<String>,
    pub imds: ImdsConfig,
    /// `DB_SECRET_ARN`: read the database credentials from Secrets Manager.
    pub db_secret_arn: Option<String>,
    /// How often the secret is read again even without an authentication failure.
    pub secret_refresh: Duration,
    /// Longest one attempt of one AWS API call may take, answer included.
    pub attempt_timeout: Duration,
    /// Longest wait between the log shipper's and the metric publisher's retries.
    pub retry_backoff_cap: Duration,
    /// Log shipping, on when `CLOUDWATCH_LOG_GROUP` is set.
    pub logs: Option<LogsConfig>,
    /// Metric publishing, on when `CLOUDWATCH_NAMESPACE` is set.
    pub metrics: Option<MetricsConfig>,
}

#[derive(Clone, Debug)]
pub struct MetricsConfig {
    pub namespace: String,
    pub interval: Duration,
}

#[derive(Clone, Debug)]
pub struct LogsConfig {
    pub group: String,
    /// Defaults to the instance id.
    pub stream: Option<String>,
    /// Bound on buffered log bytes; beyond it the oldest events are dropped (and counted).
    pub buffer_bytes: usize,
    /// Longest an event waits in the buffer before a call ships it.
    pub flush_interval: Duration,
}

#[derive(Clone, Debug)]
pub struct ImdsConfig {
    /// False with `AWS_EC2_METADATA_DISABLED=true` (the SDK's own switch).
    pub enabled: bool,
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT` (the SDK's own variable), for tests and IPv6.
    pub endpoint: Option<String>,
}

impl AwsConfig {
    /// Whether any duty needs AWS API credentials and a region.
    pub fn needs_api(&self) -> bool {
        self.db_secret_arn.is_some() || self.logs.is_some() || self.metrics.is_some()
    }
}

#[derive(Clone, Debug)]
pub struct ShutdownConfig {
    /// Pre-stop delay: keep serving after SIGTERM while `/health` fails, so the load balancer
    /// sees the instance as unhealthy before it stops accepting (docs/design.md §3, step 2).
    pub delay: Duration,
    /// Drain deadline: how long in-flight requests get once accepting stopped (step 3).
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct HealthConfig {
    /// When true a failing database makes `/health` answer 503 (docs/design.md §2: off by
    /// default, so an RDS failover does not make the ASG replace every instance at once).
    pub require_db: bool,
    pub probe_interval: Duration,
}

/// A configuration error: one line naming the variable and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {name}={value:?}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env { lookup: &lookup };
        let hostname = hostname();

        let pool_min = env.parse("DB_POOL_MIN_CONN", 2usize)?;
        let pool_max = env.parse("DB_POOL_MAX_CONN", 10usize)?;
        if pool_max == 0 || pool_max > MAX_POOL_CONNECTIONS {
            return Err(env.invalid(
                "DB_POOL_MAX_CONN",
                format!("must be between 1 and {MAX_POOL_CONNECTIONS}"),
            ));
        }
        if pool_min > pool_max {
            return Err(env.invalid(
                "DB_POOL_MIN_CONN",
                format!("must not exceed DB_POOL_MAX_CONN ({pool_max})"),
            ));
        }

        let tls = db_tls(&env)?;

        let shared_connections = match env.get("DB_SHARED_CONNECTIONS") {
            None => DEFAULT_SHARED_CONNECTIONS.min(pool_max - 1),
            Some(_) => env.parse("DB_SHARED_CONNECTIONS", 0usize)?,
        };
        if shared_connections >= pool_max {
            return Err(env.invalid(
                "DB_SHARED_CONNECTIONS",
                format!("must be below DB_POOL_MAX_CONN ({pool_max}): the health probe needs one"),
            ));
        }

        let iam_user = db_iam_user(&env, &tls)?;

        let idle_timeout = env.seconds("HTTP_IDLE_TIMEOUT_SECONDS", 75, 1..=3600)?;
        let max_concurrent_requests = env.parse("HTTP_MAX_CONCURRENT_REQUESTS", 1024usize)?;
        if max_concurrent_requests == 0 {
            return Err(env.invalid("HTTP_MAX_CONCURRENT_REQUESTS", "must be at least 1".into()));
        }

        let log_level = match env.get("LOG_LEVEL") {
            None => Level::Info,
            Some(raw) => Level::parse(&raw).ok_or_else(|| {
                env.invalid(
                    "LOG_LEVEL",
                    "must be one of DEBUG, INFO, WARN, ERROR".into(),
                )
            })?,
        };

        Ok(Self {
            http: HttpConfig {
                bind_address: env.parse("BIND_ADDRESS", IpAddr::from([0, 0, 0, 0]))?,
                port: env.parse("APPLICATION_PORT", 5001u16)?,
                idle_timeout,
                body_timeout: env.seconds("HTTP_BODY_TIMEOUT_SECONDS", 10, 1..=600)?,
                max_concurrent_requests,
            },
            db: DbConfig {
                host: env.non_empty("DB_HOST", "localhost")?,
                port: env.parse("DB_PORT", 5432u16)?,
                name: env.non_empty("DB_NAME", "appdb")?,
                user: env.non_empty("DB_USER", "postgres")?,
                password: Secret::new(env.get("DB_PASSWORD").unwrap_or_default()),
                pool_min,
                pool_max,
                shared_connections,
                connect_timeout: env.seconds("DB_CONNECT_TIMEOUT_SECONDS", 5, 1..=120)?,
                statement_timeout: env.millis("DB_STATEMENT_TIMEOUT_MS", 5000, 1..=600_000)?,
                pool_wait_timeout: env.millis("DB_POOL_WAIT_TIMEOUT_MS", 2000, 1..=60_000)?,
                tls,
                behind_proxy: env.boolean("DB_RDS_PROXY", false)?,
                iam_user,
            },
            app: AppConfig {
                version: env
                    .get("APP_VERSION")
                    .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
                environment: env.get("ENVIRONMENT").unwrap_or_else(|| "dev".to_owned()),
                hostname,
                instance_id: env.get("INSTANCE_ID"),
                instance_ip: env.get("INSTANCE_IP"),
                availability_zone: env.get("AVAILABILITY_ZONE"),
                autoscaling_group: env.get("AUTOSCALING_GROUP_NAME"),
            },
            aws: AwsConfig {
                region: env
                    .get("AWS_REGION")
                    .or_else(|| env.get("AWS_DEFAULT_REGION")),
                imds: ImdsConfig {
                    enabled: !env.boolean("AWS_EC2_METADATA_DISABLED", false)?,
                    endpoint: env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
                },
                db_secret_arn: env.get("DB_SECRET_ARN"),
                secret_refresh: env.seconds("DB_SECRET_REFRESH_SECONDS", 900, 1..=86_400)?,
                attempt_timeout: env.millis("AWS_ATTEMPT_TIMEOUT_MS", 10_000, 100..=60_000)?,
                retry_backoff_cap: env.millis(
                    "CLOUDWATCH_RETRY_BACKOFF_CAP_MS",
                    20_000,
                    10..=300_000,
                )?,
                logs: match env.get("CLOUDWATCH_LOG_GROUP") {
                    None => None,
                    Some(group) => Some(LogsConfig {
                        group,
                        stream: env.get("CLOUDWATCH_LOG_STREAM"),
                        buffer_bytes: env.ranged(
                            "CLOUDWATCH_LOG_BUFFER_BYTES",
                            8 * 1024 * 1024,
                            4096..=1024 * 1024 * 1024,
                        )? as usize,
                        flush_interval: env.millis("CLOUDWATCH_LOG_FLUSH_MS", 5000, 10..=60_000)?,
                    }),
                },
                metrics: match env.get("CLOUDWATCH_NAMESPACE") {
                    None => None,
                    Some(namespace) => Some(MetricsConfig {
                        namespace,
                        interval: env.seconds(
                            "CLOUDWATCH_METRICS_INTERVAL_SECONDS",
                            60,
                            1..=3600,
                        )?,
                    }),
                },
            },
            shutdown: ShutdownConfig {
                delay: env.seconds("SHUTDOWN_DELAY_SECONDS", 25, 0..=600)?,
                timeout: env.seconds("SHUTDOWN_TIMEOUT_SECONDS", 30, 1..=600)?,
            },
            health: HealthConfig {
                require_db: env.boolean("HEALTH_REQUIRE_DB", false)?,
                probe_interval: env.seconds("HEALTH_PROBE_INTERVAL_SECONDS", 5, 1..=300)?,
            },
            log_level,
            shown: settings::SETTINGS
                .iter()
                .map(|row| {
                    let value = match env.get(row.name) {
                        Some(_) if row.secret => "(set, hidden)".to_owned(),
                        Some(raw) => raw,
                        None => format!("(default: {})", row.default.replace('`', "")),
                    };
                    (row.name, value)
                })
                .collect(),
        })
    }

    /// Every setting of the table as `(name, value)` rows for `itemsd check`: the value as set,
    /// or what its default is; secrets only as "set".
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        self.shown.clone()
    }
}

/// `DB_SSLMODE` (libpq's default, `prefer`) and `DB_SSLROOTCERT`. The verifying modes need a
/// bundle: a static binary carries no system trust store, and RDS's CAs are private anyway.
fn db_tls(env: &Env<'_>) -> Result<DbTls, ConfigError> {
    let mode = match env.get("DB_SSLMODE") {
        None => SslMode::Prefer,
        Some(raw) => SslMode::parse(raw.trim()).ok_or_else(|| {
            env.invalid(
                "DB_SSLMODE",
                "must be one of disable, prefer, require, verify-ca, verify-full".into(),
            )
        })?,
    };
    let root_cert = match env.get("DB_SSLROOTCERT") {
        None if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) => {
            return Err(env.invalid(
                "DB_SSLROOTCERT",
                format!(
                    "DB_SSLMODE={} needs the CA bundle to verify against",
                    mode.as_str()
                ),
            ))
        }
        None => None,
        Some(raw) => {
            let path = PathBuf::from(raw.trim());
            let certs = CertificateDer::pem_file_iter(&path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| env.invalid("DB_SSLROOTCERT", format!("cannot read it: {e}")))?;
            if certs.is_empty() {
                return Err(env.invalid("DB_SSLROOTCERT", "holds no PEM certificate".into()));
            }
            Some(RootCerts {
                path,
                certs: certs.into(),
            })
        }
    };
    Ok(DbTls { mode, root_cert })
}

/// Longest PostgreSQL identifier (`NAMEDATALEN - 1`).
const MAX_IDENTIFIER_LEN: usize = 63;

/// `DB_IAM_USER`: a plain lower-case identifier (it is written into `CREATE ROLE` and `GRANT`
/// unquoted-safe), and TLS that is at least `require`: RDS refuses IAM logins without TLS,
/// and the token must not cross the network in the clear.
fn db_iam_user(env: &Env<'_>, tls: &DbTls) -> Result<Option<String>, ConfigError> {
    let Some(user) = env.get("DB_IAM_USER") else {
        return Ok(None);
    };
    let mut chars = user.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && user.len() <= MAX_IDENTIFIER_LEN;
    if !plain {
        return Err(env.invalid(
            "DB_IAM_USER",
            format!(
                "must be a lower-case PostgreSQL identifier ([a-z_][a-z0-9_]*, at most \
                 {MAX_IDENTIFIER_LEN} characters)"
            ),
        ));
    }
    if matches!(tls.mode, SslMode::Disable | SslMode::Prefer) {
        return Err(env.invalid(
            "DB_IAM_USER",
            format!(
                "IAM authentication needs DB_SSLMODE require, verify-ca or verify-full (it is {})",
                tls.mode.as_str()
            ),
        ));
    }
    Ok(Some(user))
}

/// The host name, for `GET /` and the default instance id off EC2.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    /// A variable's value; set-but-empty counts as unset, as in the original app's `os.getenv`
    /// defaults for systemd `EnvironmentFile`s that list a key with no value.
    fn get(&self, name: &str) -> Option<String> {
        debug_assert!(
            settings::find(name).is_some(),
            "{name} is read but not in config::settings::SETTINGS"
        );
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    fn invalid(&self, name: &'static str, reason: String) -> ConfigError {
        ConfigError {
            name,
            value: (self.lookup)(name).unwrap_or_default(),
            reason,
        }
    }

    fn non_empty(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        Ok(self.get(name).unwrap_or_else(|| default.to_owned()))
    }

    fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr,
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e: T::Err| self.invalid(name, e.to_string())),
        }
    }

    fn ranged(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let value = self.parse(name, default)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(self.invalid(
                name,
                format!("must be between {} and {}", range.start(), range.end()),
            ))
        }
    }

    fn seconds(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.ranged(name, default, range).map(Duration::from_secs)
    }

    fn millis(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.ranged(name, default, range).map(Duration::from_millis)
    }

    fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(self.invalid(name, "must be true or false".into())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_original_app() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.http.port, 5001);
        assert_eq!(c.db.host, "localhost");
        assert_eq!(c.db.port, 5432);
        assert_eq!(c.db.name, "appdb");
        assert_eq!(c.db.user, "postgres");
        assert_eq!((c.db.pool_min, c.db.pool_max), (2, 10));
        assert_eq!(c.db.tls.mode, SslMode::Prefer, "libpq's default");
        assert_eq!(c.app.environment, "dev");
        assert_eq!(c.app.availability_zone, None, "from IMDS unless set");
        assert!(!c.aws.needs_api(), "no AWS unless configured");
        assert!(c.aws.imds.enabled);
        assert!(
            c.http.idle_timeout > Duration::from_secs(60),
            "idle timeout must exceed the ALB's 60 s"
        );
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("APPLICATION_PORT", "http")], "APPLICATION_PORT"),
            (&[("APPLICATION_PORT", "70000")], "APPLICATION_PORT"),
            (&[("DB_POOL_MAX_CONN", "0")], "DB_POOL_MAX_CONN"),
            (
                &[("DB_POOL_MIN_CONN", "5"), ("DB_POOL_MAX_CONN", "4")],
                "DB_POOL_MIN_CONN",
            ),
            (&[("LOG_LEVEL", "chatty")], "LOG_LEVEL"),
            (&[("HEALTH_REQUIRE_DB", "maybe")], "HEALTH_REQUIRE_DB"),
            (
                &[("SHUTDOWN_TIMEOUT_SECONDS", "0")],
                "SHUTDOWN_TIMEOUT_SECONDS",
            ),
            (&[("BIND_ADDRESS", "everywhere")], "BIND_ADDRESS"),
            (&[("DB_SSLMODE", "allow-ish")], "DB_SSLMODE"),
            (&[("DB_SSLMODE", "verify-full")], "DB_SSLROOTCERT"),
            (&[("DB_SSLMODE", "verify-ca")], "DB_SSLROOTCERT"),
            (
                &[
                    ("DB_SSLMODE", "require"),
                    ("DB_SSLROOTCERT", "/nonexistent/ca.pem"),
                ],
                "DB_SSLROOTCERT",
            ),
            (&[("DB_SSLROOTCERT", "Cargo.toml")], "DB_SSLROOTCERT"),
            // IAM tokens only over TLS, and a role name safe to write into GRANT.
            (&[("DB_IAM_USER", "itemsd_app")], "DB_IAM_USER"),
            (
                &[("DB_IAM_USER", "itemsd_app"), ("DB_SSLMODE", "prefer")],
                "DB_IAM_USER",
            ),
            (
                &[("DB_IAM_USER", "App; DROP"), ("DB_SSLMODE", "require")],
                "DB_IAM_USER",
            ),
            (
                &[("DB_IAM_USER", "1app"), ("DB_SSLMODE", "require")],
                "DB_IAM_USER",
            ),
        ];
        for (vars, name) in cases {
            let err = config(vars).expect_err(&format!("{vars:?} must be rejected"));
            assert_eq!(err.name, *name, "{vars:?}");
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn an_iam_user_over_tls_is_accepted() {
        let c = config(&[("DB_IAM_USER", "itemsd_app"), ("DB_SSLMODE", "require")]).expect("valid");
        assert_eq!(c.db.iam_user.as_deref(), Some("itemsd_app"));
    }

    #[test]
    fn password_never_shows() {
        let c = config(&[("DB_PASSWORD", "hunter2")]).expect("valid");
        assert_eq!(c.db.password.expose(), "hunter2");
        let shown = format!("{c:?} {:?}", c.describe());
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn every_row_of_the_table_is_read_and_every_example_is_valid() {
        use std::collections::BTreeSet;
        let table: BTreeSet<&str> = settings::SETTINGS.iter().map(|r| r.name).collect();
        let seen = std::cell::RefCell::new(BTreeSet::new());
        // AWS_DEFAULT_REGION is read only without AWS_REGION: two passes.
        for without in [None, Some("AWS_REGION")] {
            Config::from_lookup(|name| {
                seen.borrow_mut().insert(name.to_owned());
                (Some(name) != without)
                    .then(|| settings::find(name).map(|r| r.example.to_owned()))
                    .flatten()
            })
            .expect("every example is valid, all set at once");
        }
        let seen: BTreeSet<String> = seen.into_inner();
        let seen: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
        assert_eq!(seen, table, "the parser reads exactly the table's names");
    }

    #[test]
    fn the_tables_literal_defaults_are_the_parsers() {
        let parts = |c: &Config| {
            format!(
                "{:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                c.http, c.db, c.app, c.aws, c.shutdown, c.health, c.log_level
            )
        };
        let unset = parts(&config(&[]).expect("defaults"));
        for row in settings::SETTINGS {
            let Some(literal) = row
                .default
                .strip_prefix('`')
                .and_then(|d| d.strip_suffix('`'))
                .filter(|d| !d.contains('`'))
            else {
                continue;
            };
            let set = config(&[(row.name, literal)]).expect(row.name);
            assert_eq!(parts(&set), unset, "{}: the table says {literal}", row.name);
        }
    }

    #[test]
    fn check_shows_every_setting_secrets_only_as_set() {
        let c = config(&[("DB_PASSWORD", "hunter2"), ("DB_HOST", "db.internal")]).expect("valid");
        let rows = c.describe();
        assert_eq!(rows.len(), settings::SETTINGS.len());
        assert!(rows.contains(&("DB_HOST", "db.internal".to_owned())));
        assert!(rows.contains(&("DB_PASSWORD", "(set, hidden)".to_owned())));
        assert!(rows.contains(&("DB_PORT", "(default: 5432)".to_owned())));
    }

    #[test]
    fn empty_values_fall_back_to_defaults() {
        let c = config(&[("DB_HOST", ""), ("APPLICATION_PORT", " ")]).expect("valid");
        assert_eq!(c.db.host, "localhost");
        assert_eq!(c.http.port, 5001);
    }
}
