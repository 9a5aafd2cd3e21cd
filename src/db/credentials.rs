//! Where connection credentials come from: fixed configuration, or a source that can be read
//! again when the password rotates (Secrets Manager, implemented in `crate::aws::secrets`).
//! The pool asks for the current target on every new connection.

use std::future::Future;
use std::pin::Pin;

use crate::config::{DbConfig, Secret};

/// Host, database and login for new connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectTarget {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    pub password: Secret,
}

impl ConnectTarget {
    pub fn from_config(cfg: &DbConfig) -> Self {
        Self {
            host: cfg.host.clone(),
            port: cfg.port,
            dbname: cfg.name.clone(),
            user: cfg.user.clone(),
            password: cfg.password.clone(),
        }
    }
}

pub type RefreshFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), CredentialsError>> + Send + 'a>>;

/// Why credentials are not available.
#[derive(Debug, Clone, thiserror::Error)]
#[error("database credentials unavailable: {0}")]
pub struct CredentialsError(pub String);

pub trait CredentialSource: Send + Sync + 'static {
    /// The target to connect to now, or why there is none yet.
    fn current(&self) -> Result<ConnectTarget, CredentialsError>;

    /// Reads the credentials again (after an authentication failure). Implementations limit
    /// how often they really go to their backend.
    fn refresh(&self) -> RefreshFuture<'_>;

    /// Where the credentials come from, for `itemsd check` and logs; never a secret.
    fn describe(&self) -> String;
}

/// Credentials from `DB_*` variables: they never change.
pub struct StaticCredentials(pub ConnectTarget);

impl CredentialSource for StaticCredentials {
    fn current(&self) -> Result<ConnectTarget, CredentialsError> {
        Ok(self.0.clone())
    }

    fn refresh(&self) -> RefreshFuture<'_> {
        Box::pin(async { Ok(()) })
    }

    fn describe(&self) -> String {
        "DB_* environment variables".to_owned()
    }
}
