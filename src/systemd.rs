//! The systemd notify protocol (sd_notify(3)), written in-process: `READY=1` once listening,
//! `STOPPING=1` when draining starts. A no-op when not started by systemd.

use std::os::unix::net::UnixDatagram;

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
