//! The background duties beside the server (the health probe, the secret refresh, the metric
//! publisher, the log shipper), in one shape and with one owner.
//!
//! A duty runs until its [`Stop`] says so, then finishes its last work (the last metric
//! interval, the buffered logs) and returns. [`Duties`] starts them, stops them one after the
//! other, in the order they were started, within one deadline shared by all, cuts off one that
//! overruns it, logs a panic the moment it happens, and keeps each duty's [`DutyState`] (last
//! success, last error) for `/metrics` and `itemsd status`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::telemetry::log::Logger;

/// Unix milliseconds now: the clock duty states are written in.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Told once, when the duty is to finish.
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Resolves once the duty is to finish (at once if it already is).
    pub async fn requested(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// What a duty last achieved, written by the duty, read by `/metrics` and `itemsd status`.
#[derive(Default)]
pub struct DutyState {
    /// Unix milliseconds of the last success, 0 before the first.
    last_success_ms: AtomicI64,
    errors: AtomicU64,
    /// When and why it last failed: the cause chain, never a secret.
    last_error: Mutex<Option<(i64, String)>>,
}

/// A copy of a [`DutyState`] at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DutySnapshot {
    pub last_success_ms: Option<i64>,
    pub errors: u64,
    pub last_error: Option<(i64, String)>,
}

impl DutyState {
    pub fn succeeded(&self) {
        self.last_success_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub fn failed(&self, why: impl Into<String>) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some((now_ms(), why.into()));
        }
    }

    pub fn snapshot(&self) -> DutySnapshot {
        let success = self.last_success_ms.load(Ordering::Relaxed);
        DutySnapshot {
            last_success_ms: (success != 0).then_some(success),
            errors: self.errors.load(Ordering::Relaxed),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

/// The duties' names and states, in start order: what `/metrics` and `/status` show.
pub type DutyStates = Vec<(&'static str, Arc<DutyState>)>;

/// One running duty.
pub struct Duty {
    name: &'static str,
    /// Tells the duty to finish; sent once, by [`Duty::stop_by`].
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Duty {
    /// Tells the duty to finish and waits for it until `deadline`; cuts it off (and says so)
    /// if it is still running then.
    pub async fn stop_by(self, deadline: Instant, logger: &Logger) {
        let _ = self.stop.send(true);
        let started = Instant::now();
        let mut task = self.task;
        if tokio::time::timeout_at(deadline.into(), &mut task)
            .await
            .is_err()
        {
            task.abort();
            logger
                .warn("background duty overran the stop deadline: cut off")
                .field("duty", self.name)
                .field("waited_ms", started.elapsed().as_secs_f64() * 1000.0)
                .emit();
        }
    }
}

/// The owner of the running duties.
pub struct Duties {
    /// In start order, which is also the stop order.
    running: Vec<Duty>,
    logger: Logger,
}

impl Duties {
    pub fn new(logger: Logger) -> Self {
        Self {
            running: Vec::new(),
            logger,
        }
    }

    /// Starts `duty` on the runtime. A panic in it is logged (and kept as its last error) as
    /// it happens, not when the process stops.
    pub fn start<F, Fut>(&mut self, name: &'static str, state: Arc<DutyState>, duty: F)
    where
        F: FnOnce(Stop) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (stop, told) = watch::channel(false);
        let work = duty(Stop(told));
        let logger = self.logger.clone();
        let task = tokio::spawn(async move {
            if let Err(panic) = AssertUnwindSafe(work).catch_unwind().await {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                state.failed(format!("panicked: {why}"));
                logger
                    .error("background duty panicked: it no longer runs")
                    .field("duty", name)
                    .field("error", why.as_str())
                    .emit();
            }
        });
        self.running.push(Duty { name, stop, task });
    }

    /// Takes one duty out, to be stopped apart from the others (the log shipper, which must
    /// outlast every line the others and the shutdown write).
    pub fn take(&mut self, name: &str) -> Option<Duty> {
        let at = self.running.iter().position(|d| d.name == name)?;
        Some(self.running.remove(at))
    }

    /// Stops every duty, one after the other in start order, all by `deadline`.
    pub async fn stop_by(self, deadline: Instant) {
        for duty in self.running {
            duty.stop_by(deadline, &self.logger).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::log::{Level, MemorySink};
    use std::time::Duration;

    fn logger() -> (Logger, Arc<MemorySink>) {
        let sink = Arc::new(MemorySink::default());
        (Logger::new(Level::Info, sink.clone()), sink)
    }

    #[tokio::test]
    async fn duties_stop_in_start_order_each_finishing_its_last_work() {
        let (log, _) = logger();
        let mut duties = Duties::new(log);
        let order = Arc::new(Mutex::new(Vec::new()));
        for name in ["probe", "publisher", "logs"] {
            let order = Arc::clone(&order);
            duties.start(name, Arc::default(), move |mut stop| async move {
                stop.requested().await;
                order.lock().expect("lock").push(name);
            });
        }
        duties
            .stop_by(Instant::now() + Duration::from_secs(5))
            .await;
        assert_eq!(*order.lock().expect("lock"), ["probe", "publisher", "logs"]);
    }

    #[tokio::test]
    async fn a_duty_past_the_deadline_is_cut_off_and_named() {
        let (log, sink) = logger();
        let mut duties = Duties::new(log);
        duties.start("stuck", Arc::default(), |_stop| std::future::pending());
        let started = Instant::now();
        duties
            .stop_by(Instant::now() + Duration::from_millis(200))
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the deadline holds"
        );
        let lines = sink.lines();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("overran") && l.contains("\"duty\":\"stuck\"")),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn a_panic_is_logged_when_it_happens_and_kept_as_the_last_error() {
        let (log, sink) = logger();
        let mut duties = Duties::new(log);
        let state = Arc::new(DutyState::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        duties.start("probe", Arc::clone(&state), |_stop| async move {
            let _ = rx.await;
            panic!("boom");
        });
        let _ = tx.send(());
        for _ in 0..100 {
            if state.snapshot().last_error.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let snap = state.snapshot();
        assert_eq!(snap.errors, 1);
        assert_eq!(
            snap.last_error.map(|e| e.1).as_deref(),
            Some("panicked: boom")
        );
        assert!(sink.lines().iter().any(|l| l.contains("panicked")));
        duties
            .stop_by(Instant::now() + Duration::from_secs(1))
            .await;
    }
}
