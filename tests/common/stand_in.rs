//! The skeleton every HTTP stand-in shares (the IMDS stand-in, the CBOR shim, the strict
//! CloudWatch Logs proxy): a loopback listener serving HTTP/1.1 with a handler per request,
//! that can also go down (every new connection dropped at once, as in an outage).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

pub type Reply = Response<Full<Bytes>>;

/// The client a proxying stand-in forwards to moto with.
pub type Upstream = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

pub fn upstream() -> Upstream {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// A reply with `status` and `body`.
pub fn reply(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp
}

pub struct StandIn {
    pub addr: SocketAddr,
    /// Read by the accept loop for every connection: set, the stand-in is down.
    down: Arc<AtomicBool>,
}

impl StandIn {
    /// Serves `handle` on a free loopback port until the test's runtime ends.
    pub async fn serve<H, F>(handle: H) -> Self
    where
        H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Reply> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("stand-in bind");
        let addr = listener.local_addr().expect("stand-in addr");
        let down = Arc::new(AtomicBool::new(false));
        let is_down = Arc::clone(&down);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if is_down.load(Ordering::SeqCst) {
                    drop(stream); // an outage: the connection dies at once
                    continue;
                }
                let handle = handle.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let answer = handle(req);
                        async move { Ok::<_, Infallible>(answer.await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, down }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}
