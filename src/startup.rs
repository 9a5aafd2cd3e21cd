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
use tokio::sync::{watch, Semaphore};

use crate::aws::cloudwatch_logs::{self, ShipperStats};
use crate::aws::cloudwatch_metrics::{AppReader, AppSnapshot, Publisher, PublisherStats, Who};
use crate::aws::imds::Metadata;
use crate::aws::resolve::{resolve, DbLogin, ResolveError, IMDS_BUDGET};
use crate::aws::secrets::SecretCredentials;
use crate::config::Config;
use crate::db;
use crate::health::{self, Health, Phase};
use crate::http::{router::ROUTE_LABELS, server, State};
use crate::shutdown::Shutdown;
use crate::systemd;
use crate::telemetry::log::Logger;
use crate::telemetry::metrics::HttpMetrics;

/// Bound on each of the final flushes (docs/design.md §3, step 4), the last metric publication
/// and then the logs: together the 20 s the shutdown timeline reserves for flushing (ALB
/// deregistration delay <= pre-stop + drain + flush < systemd TimeoutStopSec).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
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
}

impl Application {
    /// Binds the listener and builds the pool; tries the database once (migrations and the
    /// minimum connections) but starts without it when it is down.
    pub async fn build(config: Config, logger: Logger) -> Result<Self, StartupError> {
        let resolved = resolve(&config, &logger, DbLogin::Service).await?;
        let log_shipping = match (&config.aws.logs, &resolved.sdk) {
            (Some(logs), Some(sdk)) => {
                let destination = cloudwatch_logs::Destination {
                    group: logs.group.clone(),
                    stream: logs
                        .stream
                        .clone()
                        .unwrap_or_else(|| resolved.app.instance_id.clone()),
                };
                let (sink, stats) = cloudwatch_logs::start(
                    aws_sdk_cloudwatchlogs::Client::new(sdk),
                    destination.clone(),
                    logs.buffer_bytes,
                    logs.flush_interval,
                    logger.clone(),
                );
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

        let publisher = match (&config.aws.metrics, &resolved.sdk) {
            (Some(m), Some(sdk)) => Some(Publisher {
                client: aws_sdk_cloudwatch::Client::new(sdk),
                namespace: m.namespace.clone(),
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
            }),
            _ => None,
        };
        let state = Arc::new(State {
            instance_header: HeaderValue::from_str(&resolved.app.instance_id)?,
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
        });
        Ok(Self {
            config,
            listener,
            local_addr,
            state,
            metadata: resolved.metadata,
            secrets: resolved.secrets,
            publisher,
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
        } = self;
        let logger = state.logger.clone();
        let (stop_probe, probe_stopped) = watch::channel(false);
        let probe = tokio::spawn(health::run_probe(
            Arc::clone(&state.connections),
            Arc::clone(&state.health),
            logger.clone(),
            config.health.probe_interval,
            state.db_deadline,
            config.db.pool_min,
            probe_stopped.clone(),
        ));
        let publishing = publisher.map(|p| p.spawn(probe_stopped.clone()));
        if let Some(secrets) = &secrets {
            secrets.spawn_schedule(config.aws.secret_refresh, probe_stopped);
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
            state.health.set_phase(Phase::Draining);
            let _ = systemd::notify("STOPPING=1");
            let delay = pre_stop_delay(config.shutdown.delay, metadata.as_ref(), &logger).await;
            logger
                .info("draining: /health now answers 503; still serving")
                .field("pre_stop_delay_s", delay.as_secs_f64())
                .field("drain_timeout_s", config.shutdown.timeout.as_secs())
                .emit();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
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

        let _ = stop_probe.send(true);
        let _ = probe.await;
        if let Some(publishing) = publishing {
            // The last interval's figures (docs/design.md §3, step 4), within the flush bound.
            let _ = tokio::time::timeout(FLUSH_TIMEOUT, publishing).await;
        }
        state.connections.release();
        state.connections.pool().close();
        logger.info("itemsd stopped").emit();
        // The flush blocks on a condition variable: keep it off the runtime's workers, which
        // the shipper needs to send.
        let flushing = logger.clone();
        let _ = tokio::task::spawn_blocking(move || flushing.flush(FLUSH_TIMEOUT)).await;
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
