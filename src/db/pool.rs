//! The connection pool: timeouts, TCP keepalives and a statement timeout on every connection,
//! so neither a dead database nor a slow query can hold a request for long; credentials asked
//! of a [`CredentialSource`] for every new connection, so a rotated password is picked up.

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_postgres::ClientWrapper;
use tokio_postgres::NoTls;

use super::credentials::{ConnectTarget, CredentialSource, CredentialsError};
use crate::config::DbConfig;

/// TCP keepalive timings: a peer that vanished (an RDS failover, a dropped NAT entry) is noticed
/// within about a minute instead of the kernel's two-hour default.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;
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
        .options(format!(
            "-c statement_timeout={}",
            cfg.statement_timeout.as_millis()
        ));
    pg
}

/// Opens one connection outside any pool, running its I/O on a task of its own.
pub async fn connect_one(
    cfg: &DbConfig,
    target: &ConnectTarget,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
    let (client, connection) = pg_config(cfg, target).connect(NoTls).await?;
    let task = tokio::spawn(async move {
        // Ends when the client is dropped or the server goes away; the pool notices the latter
        // through `is_closed` when the connection is next handed out.
        let _ = connection.await;
    });
    Ok((client, task))
}

pub struct Manager {
    cfg: DbConfig,
    credentials: Arc<dyn CredentialSource>,
}

impl Manager {
    async fn connect(&self) -> Result<ClientWrapper, ConnectError> {
        let target = self.credentials.current()?;
        match connect_one(&self.cfg, &target).await {
            Ok((client, task)) => Ok(ClientWrapper::new(client, task)),
            Err(e) if e.code().map(|c| c.code()) == Some(INVALID_PASSWORD) => {
                // The password may have rotated: read the credentials again and retry once.
                self.credentials.refresh().await?;
                let target = self.credentials.current()?;
                let (client, task) = connect_one(&self.cfg, &target).await?;
                Ok(ClientWrapper::new(client, task))
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl managed::Manager for Manager {
    type Type = ClientWrapper;
    type Error = ConnectError;

    async fn create(&self) -> Result<ClientWrapper, ConnectError> {
        self.connect().await
    }

    async fn recycle(
        &self,
        client: &mut ClientWrapper,
        _: &Metrics,
    ) -> RecycleResult<ConnectError> {
        // A closed socket (a restarted server) is dropped here; a live check per checkout would
        // cost a round trip on every request, and the health probe already exercises the pool.
        if client.is_closed() {
            return Err(RecycleError::Message("connection closed".into()));
        }
        Ok(())
    }
}

/// Builds the pool without connecting: connections open on first use, so itemsd starts even
/// when the database is down and recovers by itself when it comes back.
pub fn build(
    cfg: &DbConfig,
    credentials: Arc<dyn CredentialSource>,
) -> Result<Pool, PoolBuildError> {
    let manager = Manager {
        cfg: cfg.clone(),
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
