//! Builds the connection pool: timeouts, TCP keepalives and a statement timeout on every
//! connection, so neither a dead database nor a slow query can hold a request for long.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::config::DbConfig;

pub type Pool = deadpool_postgres::Pool;

/// TCP keepalive timings: a peer that vanished (an RDS failover, a dropped NAT entry) is noticed
/// within about a minute instead of the kernel's two-hour default.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;
/// How long a returned connection may take to be checked before reuse.
const RECYCLE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
#[error("could not build the connection pool")]
pub struct PoolBuildError(#[from] deadpool_postgres::BuildError);

/// The connection settings every itemsd connection uses.
pub fn pg_config(cfg: &DbConfig) -> tokio_postgres::Config {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&cfg.host)
        .port(cfg.port)
        .dbname(&cfg.name)
        .user(&cfg.user)
        .password(cfg.password.expose())
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

/// Builds the pool without connecting: connections open on first use, so itemsd starts even
/// when the database is down and recovers by itself when it comes back.
pub fn build(cfg: &DbConfig) -> Result<Pool, PoolBuildError> {
    let manager = Manager::from_config(
        pg_config(cfg),
        NoTls,
        ManagerConfig {
            // `Fast` drops connections whose socket closed (a restarted server) when they are
            // handed out; a live check per checkout would cost a round trip on every request,
            // and the health probe already exercises the pool.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(cfg.pool_max)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(cfg.pool_wait_timeout))
        .create_timeout(Some(cfg.connect_timeout))
        .recycle_timeout(Some(RECYCLE_TIMEOUT))
        .build()?)
}

/// Opens connections until the pool holds at least `min`, concurrently. Returns how many it
/// holds; failures are left to the caller to report (the database may simply be down).
pub async fn fill_to(pool: &Pool, min: usize) -> Result<usize, deadpool_postgres::PoolError> {
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
