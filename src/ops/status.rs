//! `itemsd status`: "what is the service on this host doing now?" It asks the running process
//! (`GET /status` on this host's own listener, never the network) and prints one screen, or
//! the JSON with `--json`; its exit code says serving and healthy, degraded, not serving
//! (starting or draining), or not running, for scripts and SSM Run Command.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use crate::config::Config;
use crate::http::status::StatusBody;

/// Serving, and healthy.
pub const EXIT_HEALTHY: u8 = 0;
/// Serving, but the database is down or a background duty's last attempt failed.
pub const EXIT_DEGRADED: u8 = 1;
/// Running, not serving: starting, or draining after SIGTERM.
pub const EXIT_NOT_SERVING: u8 = 2;
/// Nothing answers: stopped, crashed, or past its pre-stop delay (the listener is closed).
pub const EXIT_NOT_RUNNING: u8 = 3;

/// Longest the question may take: the process answers from memory, in microseconds.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
enum AskError {
    #[error("nothing answers on {0}")]
    Connect(SocketAddr, #[source] std::io::Error),
    #[error("no answer within {}s", ASK_TIMEOUT.as_secs())]
    Timeout,
    #[error("HTTP exchange failed")]
    Http(#[from] hyper::Error),
    #[error("answered {0}, not a status")]
    Status(http::StatusCode),
    #[error("the answer is not a status")]
    Body(#[from] serde_json::Error),
    #[error("bad request")]
    Request(#[from] http::Error),
}

/// Where this host's itemsd listens, as seen from this host.
fn local_addr(config: &Config) -> SocketAddr {
    let ip = match config.http.bind_address {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, config.http.port)
}

async fn ask(addr: SocketAddr) -> Result<StatusBody, AskError> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| AskError::Connect(addr, e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = http::Request::get("/status")
        .header(http::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    if resp.status() != http::StatusCode::OK {
        return Err(AskError::Status(resp.status()));
    }
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body)?)
}

/// The exit code a status means.
pub fn verdict(s: &StatusBody) -> u8 {
    if s.phase != "serving" {
        return EXIT_NOT_SERVING;
    }
    let duty_failing = s
        .duties
        .iter()
        .any(|d| match (d.last_error_age_s, d.last_success_age_s) {
            (Some(_), None) => true,
            (Some(failed), Some(succeeded)) => failed < succeeded,
            (None, _) => false,
        });
    if s.health == "healthy" && !duty_failing {
        EXIT_HEALTHY
    } else {
        EXIT_DEGRADED
    }
}

fn ago(age: Option<f64>) -> String {
    match age {
        None => "never".to_owned(),
        Some(s) if s < 120.0 => format!("{s:.0}s ago"),
        Some(s) if s < 7200.0 => format!("{:.0}m ago", s / 60.0),
        Some(s) => format!("{:.1}h ago", s / 3600.0),
    }
}

fn screen(s: &StatusBody, out: &mut impl Write) -> std::io::Result<()> {
    let up = s.uptime_s as u64;
    writeln!(
        out,
        "itemsd {} (commit {}), up {}h{:02}m{:02}s: {}, {}",
        s.version,
        s.commit,
        up / 3600,
        up / 60 % 60,
        up % 60,
        s.phase,
        s.health
    )?;
    let id = &s.identity;
    writeln!(
        out,
        "identity   {} in {} ({}), group {}, environment {}",
        id.instance_id,
        id.availability_zone,
        id.region.as_deref().unwrap_or("no region"),
        id.autoscaling_group.as_deref().unwrap_or("none"),
        id.environment
    )?;
    let db = &s.database;
    writeln!(
        out,
        "database   {}, last probe {:.1} ms, schema {} (this binary {}), TLS {}",
        db.state, db.probe_ms, db.schema_version, db.expected_schema_version, db.tls
    )?;
    writeln!(out, "           login: {}", db.login)?;
    if let Some(e) = &db.last_error {
        writeln!(
            out,
            "           last error {}: {e}",
            ago(db.last_error_age_s)
        )?;
    }
    let p = &s.pool;
    writeln!(
        out,
        "pool       {} open of {} ({} in use, {} idle), {} waiting",
        p.open, p.max, p.in_use, p.idle, p.waiting
    )?;
    for d in &s.duties {
        write!(
            out,
            "duty       {:<17} last success {}, {} errors",
            d.name,
            ago(d.last_success_age_s),
            d.errors
        )?;
        match &d.last_error {
            Some(e) => writeln!(out, ", last {}: {e}", ago(d.last_error_age_s))?,
            None => writeln!(out)?,
        }
    }
    match &s.log_shipping {
        Some(l) => writeln!(
            out,
            "logs       CloudWatch Logs: {} bytes buffered, {} shipped, {} dropped, {} retries",
            l.buffered_bytes, l.shipped, l.dropped, l.retries
        )?,
        None => writeln!(out, "logs       stdout only (CLOUDWATCH_LOG_GROUP unset)")?,
    }
    match &s.metric_publishing {
        Some(m) => writeln!(
            out,
            "metrics    CloudWatch: {} data published, {} failed calls",
            m.published, m.failed_calls
        )?,
        None => writeln!(out, "metrics    not published (CLOUDWATCH_NAMESPACE unset)")?,
    }
    Ok(())
}

/// Asks, prints, and returns the exit code.
pub async fn status(config: &Config, json: bool, out: &mut impl Write) -> u8 {
    let addr = local_addr(config);
    let answer = match tokio::time::timeout(ASK_TIMEOUT, ask(addr)).await {
        Ok(answer) => answer,
        Err(_) => Err(AskError::Timeout),
    };
    let status = match answer {
        Ok(status) => status,
        Err(e) => {
            let why = crate::telemetry::log::cause_chain(&e);
            let _ = if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"running": false, "error": why})
                )
            } else {
                writeln!(out, "itemsd is not running on this host: {why}")
            };
            return EXIT_NOT_RUNNING;
        }
    };
    let _ = if json {
        serde_json::to_writer_pretty(&mut *out, &status)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out))
    } else {
        screen(&status, out)
    };
    verdict(&status)
}
