//! Logging in to RDS with IAM database authentication: no password exists for the serving
//! role, so there is nothing to rotate, leak or store. Every new connection gets a token signed
//! with the instance role's credentials ([`token`]); where to connect still comes from the
//! configured source (the connection secret or `DB_*`), whose password is never read.

pub mod token;

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use tokio::sync::Mutex;

use crate::config::Secret;
use crate::db::credentials::{ConnectTarget, CredentialSource, CredentialsError, RefreshFuture};
use crate::telemetry::log::Logger;

/// Credentials this close to their expiry are asked for again before signing: a token must
/// be signed with credentials that are still valid when RDS checks it, a moment later.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Longest start-up waits for the first credentials (the instance profile answers in
/// milliseconds on EC2); later connections ask again.
const FIRST_LOAD_BUDGET: Duration = Duration::from_secs(5);

pub struct IamAuth {
    /// Where to connect (host, port, database); its user and password are replaced.
    location: Arc<dyn CredentialSource>,
    user: String,
    region: String,
    provider: SharedCredentialsProvider,
    /// The last credentials the provider gave, or why it gave none; signing is synchronous,
    /// so `current` signs with these and `refresh` renews them.
    credentials: RwLock<Result<Credentials, CredentialsError>>,
    /// Held while asking the provider, so connections failing together share one request.
    loading: Mutex<()>,
    logger: Logger,
}

impl IamAuth {
    /// Asks for the first credentials (bounded); a failure is kept and retried by the next
    /// connection.
    pub async fn load(
        location: Arc<dyn CredentialSource>,
        user: String,
        region: String,
        provider: SharedCredentialsProvider,
        logger: Logger,
    ) -> Arc<Self> {
        let this = Arc::new(Self {
            location,
            user,
            region,
            provider,
            credentials: RwLock::new(Err(CredentialsError("AWS credentials not loaded".into()))),
            loading: Mutex::new(()),
            logger,
        });
        if tokio::time::timeout(FIRST_LOAD_BUDGET, this.renew())
            .await
            .is_err()
        {
            this.store(Err(CredentialsError(format!(
                "no AWS credentials within {}s for the RDS IAM token",
                FIRST_LOAD_BUDGET.as_secs()
            ))));
        }
        this
    }

    async fn renew(&self) {
        let _one = self.loading.lock().await;
        if self.usable().is_ok() {
            return;
        }
        let result = self.provider.provide_credentials().await.map_err(|e| {
            CredentialsError(format!(
                "no AWS credentials for the RDS IAM token: {}",
                crate::telemetry::log::cause_chain(&e)
            ))
        });
        self.store(result);
    }

    fn store(&self, result: Result<Credentials, CredentialsError>) {
        let Ok(mut current) = self.credentials.write() else {
            return;
        };
        if let Err(e) = &result {
            // Once per cause: every new connection asks again while there are none.
            if current.as_ref().err().is_none_or(|old| old.0 != e.0) {
                self.logger
                    .error("could not sign database logins")
                    .field("error", e.0.as_str())
                    .emit();
            }
        }
        *current = result;
    }

    /// The stored credentials, unless they are about to expire.
    fn usable(&self) -> Result<Credentials, CredentialsError> {
        let creds = self
            .credentials
            .read()
            .map_err(|_| CredentialsError("credentials lock poisoned".into()))?
            .clone()?;
        match creds.expiry() {
            Some(at) if at <= SystemTime::now() + EXPIRY_MARGIN => Err(CredentialsError(
                "AWS credentials for the RDS IAM token expire soon".into(),
            )),
            _ => Ok(creds),
        }
    }
}

impl CredentialSource for IamAuth {
    fn current(&self) -> Result<ConnectTarget, CredentialsError> {
        let mut target = self.location.current()?;
        let creds = self.usable()?;
        let login = token::Login {
            host: &target.host,
            port: target.port,
            user: &self.user,
            region: &self.region,
        };
        let token = token::token(&login, &creds, SystemTime::now())
            .map_err(|e| CredentialsError(e.to_string()))?;
        target.user.clone_from(&self.user);
        target.password = Secret::new(token);
        Ok(target)
    }

    fn refresh(&self) -> RefreshFuture<'_> {
        Box::pin(async move {
            if self.location.current().is_err() {
                self.location.refresh().await?;
            }
            self.renew().await;
            self.current().map(|_| ())
        })
    }

    fn describe(&self) -> String {
        format!(
            "RDS IAM authentication as {} (where: {})",
            self.user,
            self.location.describe()
        )
    }
}
