//! PostgreSQL: the connection pool, schema migrations, and one file per table.
//!
//! Nothing here knows about HTTP; callers map [`DbError`] to whatever their protocol needs.

pub mod credentials;
pub mod info;
pub mod items;
pub mod migrations;
pub mod pool;
pub mod roles;
pub mod shared;
pub mod tls;

pub use pool::{Object, Pool, PoolError};
pub use shared::{Conn, Connections};

/// A database operation that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection available")]
    Pool(#[from] PoolError),
    #[error("database query failed")]
    Query(#[from] tokio_postgres::Error),
    #[error("database did not answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("database schema is not ready: {0}")]
    Schema(String),
}

impl DbError {
    /// Whether the connection it happened on is gone or unusable (its socket closed or failed,
    /// its TLS session broke): the connection must not be used again.
    pub fn is_connection_lost(&self) -> bool {
        let Self::Query(e) = self else {
            return false;
        };
        e.is_closed()
            || std::error::Error::source(e).is_some_and(|cause| cause.is::<std::io::Error>())
    }

    /// The SQLSTATE code of a server-side error, when there is one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Self::Query(e) => e.code().map(|c| c.code()),
            Self::Pool(PoolError::Backend(pool::ConnectError::Postgres(e))) => {
                e.code().map(|c| c.code())
            }
            _ => None,
        }
    }
}
