//! Wires everything together and owns the process lifecycle: bind, serve, drain, flush.
//!
//! [`Application::build`] binds (port 0 in tests) and prepares the database without ever
//! failing on it; [`Application::run`] serves until a [`Shutdown`] is requested and then walks
//! the timeline of docs/design.md §3:
//!
//! 1. `/health` answers 503 at once; requests are served as before, each answer now with
//!    `Connection: close`.
//! 2. Keep accepting for `SHUTDOWN_DELAY_SECONDS` (1 s when IMDS says the group is already
//!    terminating this instance), so the load balancer sees the failed check.
//! 3. Stop accepting; in-flight requests finish (idle connections close), bounded by
//!    `SHUTDOWN_TIMEOUT_SECONDS`.
//! 4. Stop the probe, publish the last metric interval, close the pool, flush the logs (the
//!    publication and the flush each bounded by `FLUSH_TIMEOUT`), return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderValue;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::aws::cloudwatch_logs::{self, ShipperStats};
use crate::aws::cloudwatch_metrics::{AppReader, AppSnapshot, Publisher, PublisherStats, Who};
use crate::aws::imds::Metadata;
use crate::aws::resolve::{resolve, DbLogin, ResolveError, IMDS_BUDGET};
use crate::aws::secrets::SecretCredentials;
use crate::config::Config;
use crate::db;
use crate::duties::{Duties, DutyState, DutyStates};
use crate::health::{self, Health, Phase};
use crate::http::{router::ROUTE_LABELS, server, State};
use crate::shutdown::Shutdown;
use crate::systemd;
use crate::telemetry::log::Logger;
use crate::telemetry::metrics::HttpMetrics;

/// One budget for every background duty to finish at shutdown (docs/design.md §3, step 4): the
/// last metric interval and the buffered logs among them. The shutdown timeline reserves it
/// after the pre-stop delay and the drain (ALB deregistration delay <= pre-stop + drain +
/// this < systemd TimeoutStopSec; `shutdown_budget_fits_the_unit_and_the_terraform` holds it).
pub const DUTIES_STOP_BUDGET: Duration = Duration::from_secs(20);
/// Bound on writing the last lines to stdout (the journal) before exiting: a pipe that takes
/// longer is stuck, and the stop must still end within `TimeoutStopSec`.
const STDOUT_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// The log shipper's name among the duties: it is stopped apart, last.
const LOGS_DUTY: &str = "log_shipper";
/// Pre-stop delay when IMDS says the Auto Scaling group is already terminating this instance:
/// the ALB deregistered and drained it before SIGTERM, so there is nobody left to warn.
const LEAVING_GROUP_DELAY: Duration = Duration::from_secs(1);
/// What a request's database deadline adds to the pool wait and the server's statement timeout
/// it covers: a statement the server cancels answers within it, so a deadline that still fires
/// means the server (or the path to it) has gone silent, and its connections are cut off.
const DB_DEADLINE_MARGIN: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("could not listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Pool(#[from] db::pool::PoolBuildError),
    #[error("invalid configuration: DB_SSLROOTCERT")]
    Tls(#[from] db::tls::TlsSetupError),
    #[error("INSTANCE_ID cannot be sent as an HTTP header")]
    InstanceId(#[from] http::header::InvalidHeaderValue),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
}

impl StartupError {
    /// Whether the operator must fix the configuration (exit 64, no restart loop).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            Self::Resolve(ResolveError::NoRegion) | Self::InstanceId(_) | Self::Tls(_)
        )
    }
}

pub struct Application {
    config: Config,
    listener: TcpListener,
    local_addr: SocketAddr,
    state: Arc<State>,
    /// For the lifecycle state at shutdown (EC2 only).
    metadata: Option<Metadata>,
    /// Re-read on a schedule while serving (when credentials come from Secrets Manager).
    secrets: Option<Arc<SecretCredentials>>,
    /// Started with the server, stopped (after publishing the last interval) at shutdown.
    publisher: Option<Publisher>,
    /// The background duties' owner: the log shipper from the start (logs ship while
    /// starting), the rest once serving; stopped in order within [`DUTIES_STOP_BUDGET`].
    duties: Duties,
}

impl Application {
    /// Binds the listener and builds the pool; tries the database once (migrations and the
    /// minimum connections) but starts without it when it is down.
    pub async fn build(config: Config, logger: Logger) -> Result<Self, StartupError> {
        let resolved = resolve(&config, &logger, DbLogin::Service).await?;
        let mut duties = Duties::new(logger.clone());
        let mut duty_states: DutyStates = Vec::new();
        let log_shipping = match (&config.aws.logs, resolved.logs) {
            (Some(logs), Some(target)) => {
                let destination = target.destination;
                let state = Arc::new(DutyState::default());
                let (sink, stats, shipper) = cloudwatch_logs::start(
                    target.client,
                    destination.clone(),
                    logs.buffer_bytes,
                    target.backoff,
                    logger.clone(),
                    Arc::clone(&state),
                );
                let every = logs.flush_interval;
                duties.start(LOGS_DUTY, Arc::clone(&state), move |stop| {
                    shipper.run(every, stop)
                });
                duty_states.push((LOGS_DUTY, state));
                logger.attach(sink);
                logger
                    .info("shipping logs to CloudWatch Logs")
                    .field("group", destination.group.as_str())
                    .field("stream", destination.stream.as_str())
                    .emit();
                Some(stats)
            }
            _ => None,
        };
        let addr = SocketAddr::new(config.http.bind_address, config.http.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;
        let tls = db::tls::connector(&config.db.tls)?;
        let db_login = resolved.credentials.describe();
        let pool = db::pool::build(&config.db, tls, resolved.credentials)?;
        let connections = Arc::new(db::Connections::new(
            pool.clone(),
            config.db.shared_connections,
        ));
        let health = Arc::new(Health::with_migrations(
            config.health.require_db,
            config.db.iam_user.is_none(),
        ));
        let metrics = Arc::new(HttpMetrics::new(ROUTE_LABELS));
        let db_deadline = db_deadline(&config.db);

        let first = health::probe_once(&connections, &health, &logger, db_deadline).await;
        if first == health::DbState::Up {
            if let Err(e) = db::pool::fill_to(&pool, config.db.pool_min).await {
                logger
                    .warn("could not open the minimum pool connections")
                    .error_chain(&e)
                    .emit();
            }
        }

        duty_states.push(("probe", Arc::clone(&health.probe)));
        if let Some(secrets) = &resolved.secrets {
            duty_states.push(("secret_refresh", Arc::clone(&secrets.state)));
        }
        let publisher = match (&config.aws.metrics, resolved.metrics) {
            (Some(m), Some(target)) => Some(Publisher {
                client: target.client,
                namespace: target.namespace,
                interval: m.interval,
                who: Who {
                    instance_id: resolved.app.instance_id.clone(),
                    autoscaling_group: resolved.app.autoscaling_group.clone(),
                    image_id: resolved.app.ami_id.clone(),
                    instance_type: resolved.app.instance_type.clone(),
                },
                read_app: app_reader(&pool, &metrics, &health, log_shipping.as_ref()),
                logger: logger.clone(),
                stats: Arc::new(PublisherStats::default()),
                backoff: target.backoff,
                state: Arc::default(),
            }),
            _ => None,
        };
        if let Some(p) = &publisher {
            duty_states.push(("metric_publisher", Arc::clone(&p.state)));
        }
        let state = Arc::new(State {
            instance_header: HeaderValue::from_str(&resolved.app.instance_id)?,
            access_log: crate::http::router::AccessLogFields::new(&resolved.app.instance_id),
            bodies: crate::http::info::Bodies::new(&resolved.app),
            app: resolved.app,
            connections,
            health,
            metrics,
            logger,
            limiter: Arc::new(Semaphore::new(config.http.max_concurrent_requests)),
            body_timeout: config.http.body_timeout,
            db_deadline,
            log_shipping,
            metric_publishing: publisher.as_ref().map(|p| Arc::clone(&p.stats)),
            duties: duty_states,
            started: Instant::now(),
            db_tls: config.db.tls.describe(),
            db_login,
        });
        Ok(Self {
            config,
            listener,
            local_addr,
            state,
            metadata: resolved.metadata,
            secrets: resolved.secrets,
            publisher,
            duties,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` is requested, then drains and returns.
    pub async fn run(self, shutdown: Shutdown) {
        let Self {
            config,
            listener,
            local_addr,
            state,
            metadata,
            secrets,
            publisher,
            mut duties,
        } = self;
        let logger = state.logger.clone();
        // Stopped in this order: the probe (it uses the pool), the secret refresh, then the
        // publisher's last interval; the log shipper, started first, is stopped last.
        duties.start("probe", Arc::clone(&state.health.probe), {
            let (connections, health) = (Arc::clone(&state.connections), Arc::clone(&state.health));
            let (logger, interval) = (logger.clone(), config.health.probe_interval);
            let (deadline, min) = (state.db_deadline, config.db.pool_min);
            move |stop| {
                health::run_probe(connections, health, logger, interval, deadline, min, stop)
            }
        });
        if let Some(secrets) = secrets {
            let every = config.aws.secret_refresh;
            duties.start("secret_refresh", Arc::clone(&secrets.state), move |stop| {
                secrets.refresh_every(every, stop)
            });
        }
        if let Some(publisher) = publisher {
            duties.start(
                "metric_publisher",
                Arc::clone(&publisher.state),
                move |stop| publisher.run(stop),
            );
        }

        state.health.set_phase(Phase::Serving);
        logger
            .info("itemsd listening")
            .field("address", local_addr.to_string())
            .field("version", state.app.version.as_str())
            .field("environment", state.app.environment.as_str())
            .field("instance_id", state.app.instance_id.as_str())
            .field("database", state.health.verdict().database)
            .field("db_tls", config.db.tls.describe())
            .field("schema_version", state.health.schema_version())
            .emit();
        let _ = systemd::notify("READY=1");
        systemd::spawn_watchdog();

        let graceful = GracefulShutdown::new();
        let pre_stop = async {
            shutdown.requested().await;
            // The delay counts from the request: the IMDS question below is part of it.
            let asked = Instant::now();
            state.health.set_phase(Phase::Draining);
            let _ = systemd::notify("STOPPING=1");
            let delay = pre_stop_delay(config.shutdown.delay, metadata.as_ref(), &logger).await;
            logger
                .info("draining: /health now answers 503; still serving")
                .field("pre_stop_delay_s", delay.as_secs_f64())
                .field("drain_timeout_s", config.shutdown.timeout.as_secs())
                .emit();
            tokio::select! {
                () = tokio::time::sleep_until((asked + delay).into()) => {}
                () = shutdown.hurried() => {}
            }
        };
        server::accept_until(
            listener,
            Arc::clone(&state),
            config.http.idle_timeout,
            &graceful,
            pre_stop,
        )
        .await;

        let open = graceful.count();
        let drain_started = Instant::now();
        logger
            .info("stopped accepting; finishing in-flight requests")
            .field("open_connections", open)
            .emit();
        let drained = tokio::select! {
            () = graceful.shutdown() => true,
            () = tokio::time::sleep(config.shutdown.timeout) => false,
            () = shutdown.hurried() => false,
        };
        let record = if drained {
            logger.info("all connections drained")
        } else {
            logger.warn("drain cut short: connections still open are dropped")
        };
        record
            .field("drain_ms", drain_started.elapsed().as_secs_f64() * 1000.0)
            .emit();

        // docs/design.md §3, step 4: every duty finishes within one budget, the log shipper
        // last so that it ships every line written before it, "itemsd stopped" included.
        let deadline = Instant::now() + DUTIES_STOP_BUDGET;
        let shipper = duties.take(LOGS_DUTY);
        duties.stop_by(deadline).await;
        state.connections.release();
        state.connections.pool().close();
        logger.info("itemsd stopped").emit();
        if let Some(shipper) = shipper {
            shipper.stop_by(deadline, &logger).await;
        }
        // Whatever the shipper could not send is gone; stdout (the journal) gets every line.
        // The flush blocks on a condition variable: keep it off the runtime's workers.
        let flushing = logger.clone();
        let _ =
            tokio::task::spawn_blocking(move || flushing.flush_stdout(STDOUT_FLUSH_TIMEOUT)).await;
    }
}

/// A request's database deadline: the pool wait and the statement timeout it covers, and a
/// margin.
pub fn db_deadline(db: &crate::config::DbConfig) -> Duration {
    db.pool_wait_timeout + db.statement_timeout + DB_DEADLINE_MARGIN
}

/// The configured pre-stop delay, shortened when the Auto Scaling group is already terminating
/// this instance (the ALB drained it before SIGTERM was sent).
async fn pre_stop_delay(
    configured: Duration,
    metadata: Option<&Metadata>,
    logger: &Logger,
) -> Duration {
    let Some(metadata) = metadata else {
        return configured;
    };
    match tokio::time::timeout(IMDS_BUDGET, metadata.target_lifecycle_state()).await {
        Ok(Ok(Some(state))) if state == "Terminated" => {
            logger
                .info("the Auto Scaling group is terminating this instance: short pre-stop delay")
                .emit();
            configured.min(LEAVING_GROUP_DELAY)
        }
        _ => configured,
    }
}

/// What the metric publisher reads from the process at each interval.
fn app_reader(
    pool: &db::Pool,
    metrics: &Arc<HttpMetrics>,
    health: &Arc<Health>,
    logs: Option<&Arc<ShipperStats>>,
) -> AppReader {
    let (pool, metrics, health) = (pool.clone(), Arc::clone(metrics), Arc::clone(health));
    let logs = logs.map(Arc::clone);
    Arc::new(move || {
        let status = pool.status();
        let shipped = |f: fn(&ShipperStats) -> &std::sync::atomic::AtomicU64| {
            logs.as_ref()
                .map_or(0, |s| f(s).load(std::sync::atomic::Ordering::Relaxed))
        };
        AppSnapshot {
            requests: metrics.status_classes(),
            latency: metrics.latency_all(),
            pool_in_use: status.size.saturating_sub(status.available),
            pool_waiting: status.waiting,
            probe_failures: health
                .probe_failures
                .load(std::sync::atomic::Ordering::Relaxed),
            log_shipped: shipped(|s| &s.shipped),
            log_dropped: shipped(|s| &s.dropped),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The number after `key=` in a systemd unit (`90s` -> 90).
    fn unit_seconds(unit: &str, key: &str) -> u64 {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.trim_end_matches('s').parse().ok())
            .unwrap_or_else(|| panic!("{key} in the unit"))
    }

    /// The `default` of a Terraform variable.
    fn tf_default(hcl: &str, name: &str) -> u64 {
        let block = hcl
            .split(&format!("variable \"{name}\" {{"))
            .nth(1)
            .unwrap_or_else(|| panic!("variable {name}"));
        block
            .lines()
            .find_map(|l| l.trim().strip_prefix("default"))
            .and_then(|v| v.trim().trim_start_matches('=').trim().parse().ok())
            .unwrap_or_else(|| panic!("default of {name}"))
    }

    #[test]
    fn shutdown_budget_fits_the_unit_and_the_terraform() {
        let unit = include_str!("../systemd/itemsd.service");
        let tf = include_str!("../terraform/modules/compute/variables.tf");
        let config = Config::from_lookup(|_| None).expect("defaults");
        let (delay, drain) = (
            config.shutdown.delay.as_secs(),
            config.shutdown.timeout.as_secs(),
        );
        let duties = DUTIES_STOP_BUDGET.as_secs();
        // The Terraform writes the same numbers into the settings file and the drop-in.
        assert_eq!(tf_default(tf, "shutdown_delay_seconds"), delay);
        assert_eq!(tf_default(tf, "shutdown_timeout_seconds"), drain);
        assert_eq!(tf_default(tf, "log_flush_seconds"), duties);
        let stop = unit_seconds(unit, "TimeoutStopSec");
        assert_eq!(tf_default(tf, "systemd_timeout_stop_seconds"), stop);
        // Every step is bounded (the IMDS question inside the pre-stop delay): systemd never
        // kills a clean exit, and the ALB never cuts a request itemsd is still serving.
        let whole = delay + drain + duties + STDOUT_FLUSH_TIMEOUT.as_secs();
        assert!(
            whole < stop,
            "{delay} + {drain} + {duties} s must stay below TimeoutStopSec {stop} s"
        );
        let deregistration = tf_default(tf, "deregistration_delay_seconds");
        assert!(
            deregistration <= whole,
            "deregistration delay {deregistration} s > {whole} s"
        );
        assert!(
            IMDS_BUDGET.as_secs() < delay,
            "the IMDS question fits in the pre-stop delay"
        );
    }
}
