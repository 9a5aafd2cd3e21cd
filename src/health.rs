//! Health as state, not as a round trip: a background probe keeps the database's state, and
//! `/health` answers from it (docs/design.md §2).
//!
//! `/health` is what the ALB and the ASG act on. It answers 200 while this process can serve,
//! whatever the database does, so that one RDS failover does not make the ASG replace every
//! instance at once; it answers 503 only when this instance itself is unfit: still starting,
//! draining, or configured with `HEALTH_REQUIRE_DB` while the database is down.

use std::sync::atomic::{AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::db::{self, Connections, DbError};
use crate::duties::{DutyState, Stop};
use crate::telemetry::log::{cause_chain, Logger};

/// After a failed probe, try again this soon (instead of the full interval), so that recovery
/// is noticed within a second or two of the database coming back.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Starting = 0,
    Serving = 1,
    Draining = 2,
}

/// What the last probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbState {
    /// No probe has finished yet.
    Unknown,
    Up,
    Down,
}

pub struct Health {
    /// Lifecycle phase, read on every `/health` call and flipped by start-up and shutdown.
    phase: AtomicU8,
    /// The database's last known state; written only by the probe.
    db: RwLock<DbState>,
    /// Applied schema version (0 until migrations ran); items routes depend on it.
    schema_version: AtomicI32,
    /// Duration of the last probe round trip, microseconds.
    probe_latency_micros: AtomicU64,
    /// Probes that failed since start, for `/metrics` and CloudWatch.
    pub probe_failures: AtomicU64,
    /// Of those, the probes that passed their deadline: a database that went silent rather
    /// than one that refused (a failover's old primary).
    pub probe_timeouts: AtomicU64,
    require_db: bool,
    /// The probe's last success and last error, for `/metrics` and `itemsd status`.
    pub probe: Arc<DutyState>,
    /// Whether the probe applies pending migrations itself: not when serving as a role that
    /// may not change the schema (`DB_IAM_USER`), where `itemsd migrate` does it as the owner.
    migrates: bool,
}

/// The answer `/health` gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// "healthy", "degraded" (database down, still serving), "unhealthy", "starting", "draining".
    pub status: &'static str,
    /// "ok", "error" or "unknown".
    pub database: &'static str,
    pub serving: bool,
}

impl Health {
    pub fn new(require_db: bool) -> Self {
        Self::with_migrations(require_db, true)
    }

    /// `migrates`: whether the probe applies pending migrations (see the field).
    pub fn with_migrations(require_db: bool, migrates: bool) -> Self {
        Self {
            phase: AtomicU8::new(Phase::Starting as u8),
            db: RwLock::new(DbState::Unknown),
            schema_version: AtomicI32::new(0),
            probe_latency_micros: AtomicU64::new(0),
            probe_failures: AtomicU64::new(0),
            probe_timeouts: AtomicU64::new(0),
            require_db,
            migrates,
            probe: Arc::default(),
        }
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Starting,
            1 => Phase::Serving,
            _ => Phase::Draining,
        }
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    pub fn db_state(&self) -> DbState {
        self.db
            .read()
            .map(|s| s.clone())
            .unwrap_or(DbState::Unknown)
    }

    pub fn schema_version(&self) -> i32 {
        self.schema_version.load(Ordering::Acquire)
    }

    pub fn probe_latency(&self) -> Duration {
        Duration::from_micros(self.probe_latency_micros.load(Ordering::Relaxed))
    }

    pub fn verdict(&self) -> Verdict {
        let database = match self.db_state() {
            DbState::Up => "ok",
            DbState::Down => "error",
            DbState::Unknown => "unknown",
        };
        let (status, serving) = match self.phase() {
            Phase::Starting => ("starting", false),
            Phase::Draining => ("draining", false),
            Phase::Serving => match (database, self.require_db) {
                ("ok", _) => ("healthy", true),
                (_, true) => ("unhealthy", false),
                (_, false) => ("degraded", true),
            },
        };
        Verdict {
            status,
            database,
            serving,
        }
    }

    /// Records a probe result; returns the previous state so callers can log transitions.
    fn record(&self, state: DbState) -> DbState {
        match self.db.write() {
            Ok(mut current) => std::mem::replace(&mut *current, state),
            Err(_) => DbState::Unknown,
        }
    }
}

/// Migrates if needed, then checks the database once within `deadline` (on a connection of its
/// own); updates `health` and logs transitions.
pub async fn probe_once(
    connections: &Connections,
    health: &Health,
    logger: &Logger,
    deadline: Duration,
) -> DbState {
    let started = Instant::now();
    let result = check(connections, health, logger, deadline).await;
    health
        .probe_latency_micros
        .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    let state = match &result {
        Ok(()) => DbState::Up,
        // Every connection busy serving requests: the database is working, not down.
        Err(DbError::Pool(db::PoolError::Timeout(deadpool::managed::TimeoutType::Wait))) => {
            DbState::Up
        }
        Err(_) => DbState::Down,
    };
    match &result {
        Err(e) if state == DbState::Down => health.probe.failed(cause_chain(e)),
        _ => health.probe.succeeded(),
    }
    let previous = health.record(state.clone());
    match (&result, previous == state) {
        (Err(e), same) => {
            health.probe_failures.fetch_add(1, Ordering::Relaxed);
            if matches!(e, DbError::Timeout(_)) {
                health.probe_timeouts.fetch_add(1, Ordering::Relaxed);
            }
            if !same {
                logger
                    .error("database unreachable")
                    .error_chain(e)
                    .field("sqlstate", e.sqlstate())
                    .emit();
            }
        }
        (Ok(()), false) => logger
            .info("database reachable")
            .field("schema_version", health.schema_version())
            .field("probe_ms", started.elapsed().as_secs_f64() * 1000.0)
            .emit(),
        (Ok(()), true) => {}
    }
    state
}

async fn check(
    connections: &Connections,
    health: &Health,
    logger: &Logger,
    deadline: Duration,
) -> Result<(), DbError> {
    let latest = db::migrations::latest_version();
    if !health.migrates && health.schema_version() < latest {
        let version = connections
            .exclusive(deadline, async |conn| {
                db::migrations::current_version(conn).await
            })
            .await?;
        let before = health.schema_version.swap(version, Ordering::AcqRel);
        if version < latest && (before != version || health.db_state() != DbState::Up) {
            logger
                .warn("schema behind this binary: item routes wait for `itemsd migrate`")
                .field("schema_version", version)
                .field("expected", latest)
                .emit();
        }
    } else if health.schema_version() < latest {
        let report = connections
            .exclusive(db::migrations::MIGRATION_DEADLINE, async |conn| {
                db::migrations::migrate(conn, None).await
            })
            .await?;
        health
            .schema_version
            .store(report.version, Ordering::Release);
    }
    connections
        .exclusive(deadline, async |conn| {
            conn.simple_query("SELECT 1").await?;
            Ok(())
        })
        .await
}

/// Probes every `interval` (every second while the database is down) until `stop` changes;
/// keeps at least `min_connections` open while the database is up.
pub async fn run_probe(
    connections: Arc<Connections>,
    health: Arc<Health>,
    logger: Logger,
    interval: Duration,
    deadline: Duration,
    min_connections: usize,
    mut stop: Stop,
) {
    loop {
        // Told to stop mid-round, the probe goes at once: its answer would serve nobody.
        let state = tokio::select! {
            state = probe_once(&connections, &health, &logger, deadline) => state,
            () = stop.requested() => return,
        };
        if state == DbState::Up {
            let filled = tokio::select! {
                filled = db::pool::fill_to(connections.pool(), min_connections) => filled,
                () = stop.requested() => return,
            };
            if let Err(e) = filled {
                logger
                    .warn("could not open the minimum pool connections")
                    .error_chain(&e)
                    .emit();
            }
        }
        let wait = if state == DbState::Up {
            interval
        } else {
            interval.min(RETRY_INTERVAL)
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.requested() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_design_section_2() {
        let h = Health::new(false);
        assert_eq!(h.verdict().status, "starting");
        assert!(!h.verdict().serving);
        h.set_phase(Phase::Serving);
        assert_eq!(h.verdict().database, "unknown");
        assert!(
            h.verdict().serving,
            "an unknown database does not fail health"
        );
        h.record(DbState::Down);
        assert_eq!(h.verdict().status, "degraded");
        assert!(
            h.verdict().serving,
            "a down database alone must not fail health"
        );
        h.record(DbState::Up);
        assert_eq!(h.verdict().status, "healthy");
        h.set_phase(Phase::Draining);
        assert_eq!(h.verdict().status, "draining");
        assert!(!h.verdict().serving);

        let strict = Health::new(true);
        strict.set_phase(Phase::Serving);
        strict.record(DbState::Down);
        assert_eq!(strict.verdict().status, "unhealthy");
        assert!(!strict.verdict().serving);
    }
}
