//! The idle timeout of a connection: closed once it has had no request begin or end for the
//! whole timeout, which bounds an idle keep-alive connection and a client that sends its
//! request head slowly, or never (hyper's `header_read_timeout` did both, and measured the
//! same span: from the end of the last answer, or from the accept, to a request's head).
//!
//! hyper's timeout armed a timer for every request head and dropped it once the head was in:
//! a boxed sleep, its registration with tokio's timer wheel and its removal, on every request.
//! That was about 5 points of itemsd's CPU a request against the minimal server's, measured at
//! once (`GET /health`: 110.9 % against 105.9 % without it; docs/PERFORMANCE.md). Here a
//! request costs two stores to a counter of its connection, and a watchdog task of the
//! connection looks at the counter a few times a timeout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

/// How many times a timeout the watchdog looks: a connection is closed between one timeout
/// and a quarter more after its last request began or ended.
const CHECKS_PER_TIMEOUT: u32 = 4;

/// What a connection's requests have done, for its watchdog.
#[derive(Debug, Default)]
pub struct Activity {
    /// Requests begun plus requests ended: odd while one is being answered. Written only by
    /// the connection's task (HTTP/1.1 answers one request at a time), so a load and a store
    /// serve where a locked add would cost more; the watchdog only reads it.
    events: AtomicU64,
}

impl Activity {
    /// A request began or ended.
    pub fn mark(&self) {
        let events = self.events.load(Ordering::Relaxed);
        self.events.store(events.wrapping_add(1), Ordering::Relaxed);
    }

    fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
}

/// Waits for `connection` to end; aborts it (closing its socket) once `activity` shows no
/// request begun or ended, and none being answered, for `timeout`.
pub async fn close_when_idle(
    mut connection: JoinHandle<()>,
    activity: Arc<Activity>,
    timeout: Duration,
) {
    let tick = timeout / CHECKS_PER_TIMEOUT;
    let mut seen = activity.events();
    let mut quiet_ticks = 0;
    let sleep = tokio::time::sleep(tick);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut connection => return,
            () = &mut sleep => {
                let events = activity.events();
                // A request being answered is not idleness: its own deadlines bound it.
                if events != seen || events % 2 == 1 {
                    seen = events;
                    quiet_ticks = 0;
                } else {
                    quiet_ticks += 1;
                }
                if quiet_ticks >= CHECKS_PER_TIMEOUT {
                    connection.abort();
                    return;
                }
                sleep.as_mut().reset(tokio::time::Instant::now() + tick);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With time paused, the watchdog's span is exact: an idle connection lives at least the
    /// timeout and at most a quarter more; requests in time, or one long request, keep it.
    #[tokio::test(start_paused = true)]
    async fn a_connection_is_closed_after_a_whole_timeout_without_requests() {
        let timeout = Duration::from_secs(8);
        let activity = Arc::new(Activity::default());
        let started = tokio::time::Instant::now();
        let connection = tokio::spawn(std::future::pending::<()>());
        let watchdog = tokio::spawn(close_when_idle(connection, Arc::clone(&activity), timeout));
        // A request every 7 s for 35 s: each inside the timeout of the one before.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(7)).await;
            activity.mark();
            activity.mark();
        }
        // One request answered for 20 s, longer than the timeout.
        activity.mark();
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(!watchdog.is_finished(), "closed while busy");
        activity.mark();
        let last = tokio::time::Instant::now();
        watchdog.await.expect("the watchdog ends");
        let idle = last.elapsed();
        assert!(
            idle >= timeout && idle <= timeout + timeout / 4,
            "closed after {idle:?} idle ({:?} in all)",
            started.elapsed()
        );
    }

    /// A connection that ends by itself ends its watchdog at once.
    #[tokio::test(start_paused = true)]
    async fn the_watchdog_ends_with_its_connection() {
        let connection = tokio::spawn(async {});
        let started = tokio::time::Instant::now();
        close_when_idle(connection, Arc::default(), Duration::from_secs(60)).await;
        assert!(started.elapsed() < Duration::from_secs(15));
    }
}
