//! HAProxy (Debian's package, `scripts/install-deps.sh`) on loopback, in front of itemsd the way
//! the ALB is: it health-checks `GET /health`, routes only to servers it holds up, and keeps
//! connections alive on both sides. It never retries a request on another server (the ALB does
//! not either), so every error of a backend reaches the client.
//!
//! Servers are slots declared up front, each a fixed loopback port: an instance refresh is
//! "start itemsd on the next slot's port", the way a new instance comes up at a new address.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How often HAProxy checks each server. With `FALL` failures to take a server out, a draining
/// itemsd leaves the rotation within `FALL × CHECK_INTERVAL` plus one check's time, so its
/// `SHUTDOWN_DELAY_SECONDS` must exceed that, as the ALB's 25 s exceeds 2 × 10 s + 5 s. A
/// check waits up to 2 s for its answer (`timeout check`), which a draining itemsd gives at once.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(250);
const FALL: u32 = 2;
const RISE: u32 = 2;

pub struct HaProxy {
    child: Child,
    dir: PathBuf,
    pub addr: SocketAddr,
}

fn haproxy_binary() -> &'static str {
    let found = Command::new("haproxy")
        .arg("-v")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "haproxy not found on PATH: run scripts/install-deps.sh (apt-get install haproxy)"
    );
    "haproxy"
}

impl HaProxy {
    /// Starts HAProxy with one server slot per port in `backends`, named `s0`, `s1`, ...
    pub async fn start(backends: &[u16]) -> Self {
        let binary = haproxy_binary();
        let port = super::free_port();
        let dir =
            std::env::temp_dir().join(format!("itemsd-haproxy-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("haproxy folder");
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, p)| format!("    server s{i} 127.0.0.1:{p} check\n"))
            .collect();
        let inter = CHECK_INTERVAL.as_millis();
        let config = format!(
            "global
    stats socket {sock} mode 600 level admin
    log stderr format raw local0 warning
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 60s
    timeout server 30s
    # A loaded test machine can take a while to answer; the ALB waits 5 s.
    timeout check 2s
    timeout http-keep-alive 60s
    # No second attempt on another server: the ALB makes none either.
    retries 0
frontend web
    bind 127.0.0.1:{port}
    default_backend itemsd
backend itemsd
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server inter {inter}ms fastinter {inter}ms downinter {inter}ms fall {FALL} rise {RISE}
{servers}",
            sock = dir.join("admin.sock").display(),
        );
        let cfg = dir.join("haproxy.cfg");
        std::fs::write(&cfg, config).expect("haproxy config");
        let child = Command::new(binary)
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("haproxy starts");
        let proxy = Self {
            child,
            dir,
            addr: ([127, 0, 0, 1], port).into(),
        };
        super::eventually(
            "haproxy's stats socket answers",
            Duration::from_secs(10),
            || {
                let up = proxy.try_stats().is_some();
                async move { up }
            },
        )
        .await;
        proxy
    }

    fn try_stats(&self) -> Option<String> {
        let mut sock = UnixStream::connect(self.dir.join("admin.sock")).ok()?;
        sock.write_all(b"show stat\n").ok()?;
        let mut out = String::new();
        sock.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// The health state HAProxy holds for server `name` ("UP", "DOWN", "UP 1/2", ...).
    pub fn state(&self, name: &str) -> String {
        let stats = self.try_stats().expect("haproxy stats");
        let mut lines = stats.lines();
        let header: Vec<&str> = lines
            .next()
            .and_then(|h| h.strip_prefix("# "))
            .expect("stats header")
            .split(',')
            .collect();
        let col = |n: &str| header.iter().position(|c| *c == n).expect("stats column");
        let (sv, status) = (col("svname"), col("status"));
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.get(sv) == Some(&name) && f[0] == "itemsd")
            .map(|f| f[status].to_owned())
            .unwrap_or_else(|| panic!("no server {name} in haproxy's stats:\n{stats}"))
    }

    /// Waits until HAProxy holds server `name` in state `want` (exactly "UP" or "DOWN").
    pub async fn wait_state(&self, name: &str, want: &str, within: Duration) {
        let what = format!("haproxy holds {name} {want:?}");
        super::eventually(&what, within, || {
            let holds = self.state(name) == want;
            async move { holds }
        })
        .await;
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
