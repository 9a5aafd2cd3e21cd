//! The accept loop and per-connection settings: HTTP/1.1 (what the ALB speaks to targets),
//! keep-alive with an idle timeout above the ALB's, header limits, and graceful shutdown
//! through hyper-util's watcher.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::idle::{self, Activity};
use super::{router, State};

/// Largest request head (request line and headers) accepted; beyond it hyper answers 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields accepted in one request; beyond it hyper answers 431.
pub const MAX_HEADERS: usize = 64;
/// Pause after a failed accept (out of file descriptors, say) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts connections until `stop` resolves, serving each on its own task watched by
/// `graceful`. Returns, closing the listener, once `stop` resolves.
pub async fn accept_until(
    listener: TcpListener,
    state: Arc<State>,
    idle_timeout: Duration,
    graceful: &GracefulShutdown,
    stop: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        // `idle` bounds a slow client's request head and an idle keep-alive connection, at a
        // connection's cost rather than a timer a request.
        .header_read_timeout(None)
        .keep_alive(true)
        .max_headers(MAX_HEADERS)
        .max_header_size(MAX_HEADER_BYTES);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Small JSON answers: send them now, not after Nagle's delay.
                    let _ = stream.set_nodelay(true);
                    let from_this_host = peer.ip().is_loopback()
                        || stream.local_addr().is_ok_and(|local| local.ip() == peer.ip());
                    let state = Arc::clone(&state);
                    let activity = Arc::new(Activity::default());
                    let requests = Arc::clone(&activity);
                    let service = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        let requests = Arc::clone(&requests);
                        async move {
                            requests.mark();
                            let answer = router::handle(state, req, from_this_host).await;
                            requests.mark();
                            answer
                        }
                    });
                    let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                    let served = tokio::spawn(async move {
                        // Errors here are the client's (a reset, a malformed request hyper
                        // already answered); the access log has the requests that were served.
                        let _ = conn.await;
                    });
                    tokio::spawn(idle::close_when_idle(served, activity, idle_timeout));
                }
                Err(e) => {
                    state.logger.warn("accept failed").field("error", e.to_string()).emit();
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            },
        }
    }
}
