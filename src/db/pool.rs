//! The connection pool: timeouts, TCP keepalives, `TCP_USER_TIMEOUT`, TLS and a statement
//! timeout on every connection, so neither a dead database nor a slow query can hold a request
//! for long; credentials asked of a [`CredentialSource`] for every new connection, so a rotated
//! password is picked up; the endpoint's name resolved again for every new connection (an RDS
//! failover is a DNS change: tokio-postgres looks the host up on each connect).

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_postgres::ClientWrapper;

use super::credentials::{ConnectTarget, CredentialSource, CredentialsError};
use super::tls::{self, Connector};
use crate::config::DbConfig;

/// TCP keepalive timings: a peer that vanished (an RDS failover, a dropped NAT entry) is noticed
/// within about a minute instead of the kernel's two-hour default.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;
/// Longest data written to the database may stay unacknowledged before the kernel drops the
/// connection. A primary that vanished without a reset (an AZ gone dark in a Multi-AZ
/// failover) otherwise holds such a socket for about 15 minutes of retransmissions
/// (`tcp_retries2`), and keepalives do not fire while data is in flight. Above every request
/// deadline, so the deadline, not the kernel, answers the request.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a returned connection may take to be checked before reuse.
const RECYCLE_TIMEOUT: Duration = Duration::from_secs(2);
/// SQLSTATE `invalid_password`: what a rotated password looks like to a new connection.
const INVALID_PASSWORD: &str = "28P01";

pub type Pool = managed::Pool<Manager>;
pub type Object = managed::Object<Manager>;
pub type PoolError = managed::PoolError<ConnectError>;

/// Why a new connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("could not connect to the database")]
    Postgres(#[from] tokio_postgres::Error),
}

#[derive(Debug, thiserror::Error)]
#[error("could not build the connection pool")]
pub struct PoolBuildError(#[from] managed::BuildError);

/// The connection settings every itemsd connection uses, for a given target.
pub fn pg_config(cfg: &DbConfig, target: &ConnectTarget) -> tokio_postgres::Config {
    let mut pg = tokio_postgres::Config::new();
    if !cfg.behind_proxy {
        // Behind RDS Proxy the proxy's initialisation query sets it instead: the proxy
        // refuses connections that carry startup options.
        pg.options(format!(
            "-c statement_timeout={}",
            cfg.statement_timeout.as_millis()
        ));
    }
    pg.host(&target.host)
        .port(target.port)
        .dbname(&target.dbname)
        .user(&target.user)
        .password(target.password.expose())
        .application_name("itemsd")
        .connect_timeout(cfg.connect_timeout)
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE)
        .keepalives_interval(KEEPALIVE_INTERVAL)
        .keepalives_retries(KEEPALIVE_RETRIES)
        .tcp_user_timeout(TCP_USER_TIMEOUT)
        .ssl_mode(tls::wire_mode(cfg.tls.mode));
    pg
}

/// Opens one connection outside any pool, running its I/O on a task of its own.
pub async fn connect_one(
    cfg: &DbConfig,
    tls: &Connector,
    target: &ConnectTarget,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
    let (client, connection) = pg_config(cfg, target).connect(tls.clone()).await?;
    let task = tokio::spawn(async move {
        // Ends when the client is dropped or the server goes away; the pool notices the latter
        // through `is_closed` when the connection is next handed out.
        let _ = connection.await;
    });
    Ok((client, task))
}

/// A pooled connection, and whether it may be handed out again.
pub struct PgConn {
    client: ClientWrapper,
    /// Ends the connection's I/O task: how [`PgConn::discard`] fails at once every call still
    /// waiting on a server that stopped answering, instead of each at its own deadline.
    io: tokio::task::AbortHandle,
    /// Set once a call on this connection passed its deadline or lost its socket. A silent
    /// peer leaves the socket looking open, so recycling must not go by `is_closed` alone.
    broken: AtomicBool,
    /// When it was opened: after a deadline, connections older than the call that timed out
    /// are suspect (they may lead to a primary that is gone), newer ones are not.
    pub opened: Instant,
    /// Statements go unnamed, never prepared and cached (behind RDS Proxy, where a named
    /// statement pins the session to one database connection).
    pub unnamed_statements: bool,
}

impl PgConn {
    fn new(
        client: tokio_postgres::Client,
        task: tokio::task::JoinHandle<()>,
        unnamed_statements: bool,
    ) -> Self {
        Self {
            io: task.abort_handle(),
            client: ClientWrapper::new(client, task),
            broken: AtomicBool::new(false),
            opened: Instant::now(),
            unnamed_statements,
        }
    }

    /// Never to be used again, and cut off now: calls in flight on it fail at once.
    pub fn discard(&self) {
        self.broken.store(true, Ordering::Release);
        self.io.abort();
    }

    /// Whether new calls may be sent on it.
    pub fn is_usable(&self) -> bool {
        !self.broken.load(Ordering::Acquire) && !self.client.is_closed()
    }
}

impl Deref for PgConn {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        &self.client
    }
}

impl DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut ClientWrapper {
        &mut self.client
    }
}

pub struct Manager {
    cfg: DbConfig,
    tls: Connector,
    credentials: Arc<dyn CredentialSource>,
}

impl Manager {
    async fn connect(&self) -> Result<PgConn, ConnectError> {
        let target = match self.credentials.current() {
            Ok(target) => target,
            // None yet (the first read failed or is still late): ask again, which the source
            // limits to once a second.
            Err(_) => {
                self.credentials.refresh().await?;
                self.credentials.current()?
            }
        };
        match connect_one(&self.cfg, &self.tls, &target).await {
            Ok((client, task)) => Ok(PgConn::new(client, task, self.cfg.behind_proxy)),
            Err(e) if e.code().map(|c| c.code()) == Some(INVALID_PASSWORD) => {
                // The password may have rotated: read the credentials again and retry once.
                self.credentials.refresh().await?;
                let target = self.credentials.current()?;
                let (client, task) = connect_one(&self.cfg, &self.tls, &target).await?;
                Ok(PgConn::new(client, task, self.cfg.behind_proxy))
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl managed::Manager for Manager {
    type Type = PgConn;
    type Error = ConnectError;

    async fn create(&self) -> Result<PgConn, ConnectError> {
        self.connect().await
    }

    async fn recycle(&self, conn: &mut PgConn, _: &Metrics) -> RecycleResult<ConnectError> {
        // A closed socket (a restarted server) or a connection found broken is dropped here; a
        // live check per checkout would cost a round trip on every request, and the health
        // probe already exercises the pool.
        if !conn.is_usable() {
            return Err(RecycleError::Message("connection closed or broken".into()));
        }
        Ok(())
    }
}

/// Builds the pool without connecting: connections open on first use, so itemsd starts even
/// when the database is down and recovers by itself when it comes back.
pub fn build(
    cfg: &DbConfig,
    tls: Connector,
    credentials: Arc<dyn CredentialSource>,
) -> Result<Pool, PoolBuildError> {
    let manager = Manager {
        cfg: cfg.clone(),
        tls,
        credentials,
    };
    Ok(Pool::builder(manager)
        .max_size(cfg.pool_max)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(cfg.pool_wait_timeout))
        .create_timeout(Some(cfg.connect_timeout))
        .recycle_timeout(Some(RECYCLE_TIMEOUT))
        .build()?)
}

/// Opens connections until the pool holds at least `min`, concurrently. Returns how many it
/// holds; failures are left to the caller to report (the database may simply be down).
pub async fn fill_to(pool: &Pool, min: usize) -> Result<usize, PoolError> {
    if pool.status().size < min {
        // Hold `min` checkouts at once: idle connections are handed out first, and the rest
        // must be opened.
        let checkouts = (0..min).map(|_| pool.get());
        let results = futures_util::future::join_all(checkouts).await;
        // Every checkout is held until all have finished, so each opened its own connection.
        for result in results {
            drop(result?);
        }
    }
    Ok(pool.status().size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Secret};

    fn target() -> ConnectTarget {
        ConnectTarget {
            host: "db".into(),
            port: 5432,
            dbname: "appdb".into(),
            user: "itemsd".into(),
            password: Secret::new("pw"),
        }
    }

    #[test]
    fn behind_rds_proxy_no_startup_options_are_sent() {
        let direct = Config::from_lookup(|_| None).expect("defaults");
        assert_eq!(
            pg_config(&direct.db, &target()).get_options(),
            Some("-c statement_timeout=5000")
        );
        let proxied = Config::from_lookup(|name| (name == "DB_RDS_PROXY").then(|| "true".into()))
            .expect("valid");
        assert_eq!(pg_config(&proxied.db, &target()).get_options(), None);
    }
}
