//! The systemd notify protocol (sd_notify(3)), written in-process: `READY=1` once listening,
//! `STOPPING=1` when draining starts, `WATCHDOG=1` while the runtime is alive when the unit sets
//! `WatchdogSec=`. A no-op when not started by systemd.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends `state` to `$NOTIFY_SOCKET`. Returns whether there was a socket to send to.
pub fn notify(state: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        // A leading '@' names a socket in the abstract namespace.
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        socket.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        socket.send_to(state.as_bytes(), &path)?;
    }
    Ok(true)
}

/// The watchdog interval systemd expects pings within (`$WATCHDOG_USEC`), if any, and only when
/// it is meant for this process (`$WATCHDOG_PID`, when set, names it).
pub fn watchdog_interval() -> Option<Duration> {
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim() != std::process::id().to_string() {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Pings the watchdog at half its interval from a runtime task: if the runtime wedges, the
/// pings stop and systemd restarts the service.
pub fn spawn_watchdog() {
    if let Some(interval) = watchdog_interval() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval / 2);
            loop {
                tick.tick().await;
                let _ = notify("WATCHDOG=1");
            }
        });
    }
}
