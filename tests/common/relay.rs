//! A TCP relay standing for the RDS endpoint during a Multi-AZ failover: connections are
//! forwarded to the current server until [`Relay::flip`], after which every connection made
//! before goes silent (what the client sends is accepted and never answered, as when an AZ
//! goes dark: no reset, no FIN) and new connections reach the new server, as the endpoint's
//! DNS name does once it points at the promoted standby.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct Relay {
    pub addr: SocketAddr,
    /// The server new connections go to, and the generation connections belong to: a
    /// connection goes silent once the generation it was made in is over.
    target: watch::Sender<(u16, u64)>,
    /// The accept loop; it owns every connection's task, so dropping the relay ends them all.
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(server_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay bind");
        let addr = listener.local_addr().expect("relay address");
        let (target, watching) = watch::channel((server_port, 0));
        let accept = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                connections.spawn(relay(client, watching.clone()));
            }
        });
        Self {
            addr,
            target,
            accept,
        }
    }

    /// Silences every connection made so far; new ones go to `server_port`.
    pub fn flip(&self, server_port: u16) {
        self.target.send_modify(|(port, generation)| {
            (*port, *generation) = (server_port, *generation + 1)
        });
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn relay(mut client: TcpStream, mut target: watch::Receiver<(u16, u64)>) {
    let (port, generation) = *target.borrow_and_update();
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", port)).await else {
        return;
    };
    {
        let (mut from_client, mut to_client) = client.split();
        let (mut from_server, mut to_server) = server.split();
        tokio::select! {
            _ = tokio::io::copy(&mut from_client, &mut to_server) => return,
            _ = tokio::io::copy(&mut from_server, &mut to_client) => return,
            _ = target.wait_for(|(_, g)| *g != generation) => {}
        }
    }
    // The old server is gone for this client: nothing reaches it again, nothing comes back.
    drop(server);
    let _ = tokio::io::copy(&mut client, &mut tokio::io::sink()).await;
}
