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
pub mod stand_in;
pub mod strict_logs;

use std::future::Future;
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// How often [`eventually`] asks again: quick enough that a test ends soon after its condition
/// holds, slow enough that a check running the AWS CLI does not load the machine.
const POLL: Duration = Duration::from_millis(100);

/// Awaits `check` every [`POLL`] until it gives a value, or panics saying `what` did not
/// happen within `within` and what `check` said last. The one deadline loop of the harness:
/// tests await conditions, never sleep for them.
pub async fn eventually_ok<T, F: Future<Output = Result<T, String>>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "{what} within {within:?}; last: {last}"
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually_ok`] for a condition that holds or not.
pub async fn eventually<F: Future<Output = bool>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) {
    eventually_ok(what, within, || {
        let holds = check();
        async move {
            if holds.await {
                Ok(())
            } else {
                Err("not yet".to_owned())
            }
        }
    })
    .await;
}

/// A loopback port nothing listens on now (for a server the test starts, or one that is down).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
