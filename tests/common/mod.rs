//! What the integration tests share: PostgreSQL clusters, the in-process server, a client.
#![allow(dead_code)] // each test binary uses its own part of the harness

pub mod app;
pub mod cbor_shim;
pub mod client;
pub mod haproxy;
pub mod imds;
pub mod load;
pub mod moto;
pub mod pg;
pub mod process;
pub mod relay;
pub mod strict_logs;

use std::future::Future;
use std::time::{Duration, Instant};

/// Awaits `check` every 100 ms until it holds, or panics saying `what` did not happen within
/// `within`.
pub async fn eventually<F: Future<Output = bool>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
