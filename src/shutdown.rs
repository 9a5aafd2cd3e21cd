//! Shutdown requests: the first asks for a graceful drain, any further one asks to hurry
//! (skip what is left of the pre-stop delay and the drain).

use std::sync::Arc;

use futures_util::StreamExt;
use signal_hook::consts::{SIGINT, SIGTERM};
use tokio::sync::watch;

use crate::telemetry::log::Logger;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Running,
    Requested,
    Hurried,
}

/// A cloneable handle: signals, tests and the application share one.
#[derive(Clone)]
pub struct Shutdown {
    stage: Arc<watch::Sender<Stage>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Self {
            stage: Arc::new(watch::channel(Stage::Running).0),
        }
    }

    /// Asks for a graceful shutdown; asked again, asks to hurry.
    pub fn request(&self) -> Stage {
        let mut now = Stage::Running;
        self.stage.send_modify(|stage| {
            *stage = match *stage {
                Stage::Running => Stage::Requested,
                _ => Stage::Hurried,
            };
            now = *stage;
        });
        now
    }

    pub fn stage(&self) -> Stage {
        *self.stage.borrow()
    }

    async fn reached(&self, stage: Stage) {
        let mut rx = self.stage.subscribe();
        // The sender lives in `self`, so waiting cannot fail while we hold it.
        let _ = rx.wait_for(|s| *s >= stage).await;
    }

    /// Resolves once a shutdown has been requested.
    pub async fn requested(&self) {
        self.reached(Stage::Requested).await;
    }

    /// Resolves once a second request asked to hurry.
    pub async fn hurried(&self) {
        self.reached(Stage::Hurried).await;
    }
}

/// Turns SIGTERM and SIGINT into shutdown requests, for as long as the process runs.
pub fn listen_for_signals(shutdown: Shutdown, logger: Logger) -> std::io::Result<()> {
    let mut signals = signal_hook_tokio::Signals::new([SIGTERM, SIGINT])?;
    tokio::spawn(async move {
        while let Some(signal) = signals.next().await {
            let name = if signal == SIGTERM {
                "SIGTERM"
            } else {
                "SIGINT"
            };
            match shutdown.request() {
                Stage::Requested => logger
                    .info("shutdown requested: draining; send the signal again to hurry")
                    .field("signal", name)
                    .emit(),
                _ => logger
                    .warn("shutdown hurried: skipping the rest of the delay and drain")
                    .field("signal", name)
                    .emit(),
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_request_drains_second_hurries() {
        let s = Shutdown::new();
        assert_eq!(s.stage(), Stage::Running);
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.requested().await }
        });
        assert_eq!(s.request(), Stage::Requested);
        waiter.await.expect("requested resolves");
        assert_eq!(s.request(), Stage::Hurried);
        s.hurried().await;
        assert_eq!(s.request(), Stage::Hurried, "further requests stay hurried");
    }
}
