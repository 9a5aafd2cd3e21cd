//! Database credentials from Secrets Manager, read at start, again on a schedule, and again
//! when a new connection fails authentication (the RDS-managed password rotated). Nothing
//! secret is written to disk, logged, or put in the process environment: the password lives
//! in memory, in a [`Secret`](crate::config::Secret).

pub mod parse;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use tokio::sync::Mutex;

use crate::db::credentials::{ConnectTarget, CredentialSource, CredentialsError, RefreshFuture};
use crate::duties::{DutyState, Stop};
use crate::telemetry::log::Logger;
use parse::Login;

/// Reads prompted by authentication failures are at most this frequent: a wrong password in a
/// secret must not turn every connection attempt into a Secrets Manager call.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Longest start-up waits for the first read (up to two secrets, each up to three SDK
/// attempts): with the metadata budget and the first database probe it keeps READY within the
/// unit's 30 s start timeout. A read that takes longer goes on from the connections, which
/// read again (at most once a second) while there are no credentials.
const FIRST_READ_BUDGET: Duration = Duration::from_secs(10);

/// The stable part of a failed call: the same failure read again gives the same cause.
fn fetch_cause<R>(e: &SdkError<GetSecretValueError, R>) -> String {
    match e {
        SdkError::ServiceError(s) => s.err().meta().code().unwrap_or("service error").to_owned(),
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "dispatch failure".to_owned(),
        SdkError::ResponseError(_) => "response error".to_owned(),
        SdkError::ConstructionFailure(_) => "construction failure".to_owned(),
        _ => "other".to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("could not read secret {arn}: {detail}")]
    Fetch {
        arn: String,
        detail: String,
        /// What failed, without what differs per call (the request id): the error code, or
        /// the kind of failure when there is none.
        cause: String,
    },
    #[error("secret {arn} has no string value")]
    NotString { arn: String },
    #[error("secret {arn} is malformed: {source}")]
    Shape {
        arn: String,
        #[source]
        source: parse::ShapeError,
    },
}

impl SecretError {
    /// The failure without what differs per call: two reads failing alike give the same.
    pub fn cause(&self) -> String {
        match self {
            Self::Fetch { arn, cause, .. } => format!("{arn}: {cause}"),
            other => other.to_string(),
        }
    }
}

pub struct SecretCredentials {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    /// Used when the secret names no database.
    default_dbname: String,
    /// Whether to read the RDS-managed password secret the connection secret points at: not
    /// when logging in with IAM tokens, so the serving process never holds the master
    /// password.
    reads_password: bool,
    /// The last successful read, or why none succeeded yet; read on every new connection.
    current: RwLock<Result<ConnectTarget, CredentialsError>>,
    /// When the secret was last read; held while reading so concurrent failures share a read.
    last_read: Mutex<Option<Instant>>,
    /// Reads completed so far: a caller that waited for `last_read` while another read ran
    /// sees it changed and uses that read instead of making its own.
    reads: AtomicU64,
    /// The cause of the reads failing now, if they are: a failure is logged when its cause
    /// changes, not at every read (the whole error differs per read by its request id).
    failing: std::sync::Mutex<Option<String>>,
    /// Last successful read and last failure (at start, on schedule, or after an
    /// authentication failure), for `/metrics` and `itemsd status`.
    pub state: Arc<DutyState>,
    logger: Logger,
}

impl SecretCredentials {
    /// Reads the secret once; a failure is logged and kept (connections fail with it) and the
    /// next refresh tries again.
    pub async fn load(
        client: aws_sdk_secretsmanager::Client,
        arn: String,
        default_dbname: String,
        reads_password: bool,
        logger: Logger,
    ) -> Arc<Self> {
        let this = Arc::new(Self {
            client,
            arn,
            default_dbname,
            reads_password,
            current: RwLock::new(Err(CredentialsError("secret not read yet".into()))),
            last_read: Mutex::new(None),
            reads: AtomicU64::new(0),
            failing: std::sync::Mutex::new(None),
            state: Arc::default(),
            logger,
        });
        let mut last_read = this.last_read.lock().await;
        if tokio::time::timeout(FIRST_READ_BUDGET, this.read_and_store(&mut last_read))
            .await
            .is_err()
        {
            let why = format!(
                "secret {} not read: Secrets Manager did not answer within {}s",
                this.arn,
                FIRST_READ_BUDGET.as_secs()
            );
            this.logger
                .error("could not read database credentials")
                .field("error", why.as_str())
                .emit();
            this.state.failed(why.as_str());
            if let Ok(mut current) = this.current.write() {
                *current = Err(CredentialsError(why));
            }
        }
        drop(last_read);
        this
    }

    async fn fetch(&self, arn: &str) -> Result<String, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e: SdkError<GetSecretValueError>| SecretError::Fetch {
                arn: arn.to_owned(),
                detail: DisplayErrorContext(&e).to_string(),
                cause: fetch_cause(&e),
            })?;
        out.secret_string()
            .map(str::to_owned)
            .ok_or_else(|| SecretError::NotString {
                arn: arn.to_owned(),
            })
    }

    /// Reads the secret (and the RDS-managed one it points at, if any and wanted).
    pub async fn read(&self) -> Result<ConnectTarget, SecretError> {
        let shape_error = |arn: &str| {
            let arn = arn.to_owned();
            move |source| SecretError::Shape { arn, source }
        };
        let conn =
            parse::connection(&self.fetch(&self.arn).await?).map_err(shape_error(&self.arn))?;
        let (user, password) = match conn.login {
            Login::Password(password) => (conn.username, password),
            Login::ManagedSecret(_) if !self.reads_password => {
                (conn.username, crate::config::Secret::new(""))
            }
            Login::ManagedSecret(managed) => {
                let (user, password) = parse::managed_login(&self.fetch(&managed).await?)
                    .map_err(shape_error(&managed))?;
                (user, password)
            }
        };
        Ok(ConnectTarget {
            host: conn.host,
            port: conn.port,
            dbname: conn.dbname.unwrap_or_else(|| self.default_dbname.clone()),
            user,
            password,
        })
    }

    async fn read_and_store(&self, last_read: &mut Option<Instant>) {
        *last_read = Some(Instant::now());
        let result = self.read().await;
        self.reads.fetch_add(1, Ordering::Release);
        let Ok(mut current) = self.current.write() else {
            return;
        };
        match &result {
            Ok(_) => self.state.succeeded(),
            Err(e) => self.state.failed(e.to_string()),
        }
        match result {
            Ok(target) => {
                if let Ok(mut failing) = self.failing.lock() {
                    *failing = None;
                }
                let changed = current.as_ref().map_or(true, |old| old != &target);
                if changed {
                    self.logger
                        .info("database credentials read from Secrets Manager")
                        .field("secret", self.arn.as_str())
                        .field("host", target.host.as_str())
                        .field("user", target.user.as_str())
                        .emit();
                }
                *current = Ok(target);
            }
            Err(e) => {
                // Once per cause: without credentials every new connection asks again.
                let said = e.to_string();
                let cause = e.cause();
                let new_cause = self
                    .failing
                    .lock()
                    .map(|mut failing| failing.replace(cause.clone()) != Some(cause))
                    .unwrap_or(true);
                if new_cause {
                    self.logger
                        .error("could not read database credentials")
                        .error_chain(&e)
                        .emit();
                }
                // Keep working credentials when a re-read fails: the old password may still do.
                if current.is_err() {
                    *current = Err(CredentialsError(said));
                }
            }
        }
    }

    /// A duty: reads the secret again every `every` until `stop` says so.
    pub async fn refresh_every(self: Arc<Self>, every: Duration, mut stop: Stop) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.requested() => return,
            }
            self.read_and_store(&mut *self.last_read.lock().await).await;
        }
    }
}

impl CredentialSource for SecretCredentials {
    fn current(&self) -> Result<ConnectTarget, CredentialsError> {
        self.current
            .read()
            .map_err(|_| CredentialsError("credentials lock poisoned".into()))?
            .clone()
    }

    fn refresh(&self) -> RefreshFuture<'_> {
        Box::pin(async move {
            let seen = self.reads.load(Ordering::Acquire);
            let mut last_read = self.last_read.lock().await;
            // Another connection that failed at the same moment has just read it.
            if self.reads.load(Ordering::Acquire) != seen {
                return self.current().map(|_| ());
            }
            // Read a moment ago (at start, say, just before a rotation): handing back the
            // password that has just failed would fail this connection too, so wait out the
            // interval and read. Holding the lock while waiting keeps it one read per
            // interval however many connections fail; they queue and share the read.
            if let Some(wait) =
                last_read.and_then(|t| MIN_REFRESH_INTERVAL.checked_sub(t.elapsed()))
            {
                tokio::time::sleep(wait).await;
            }
            // Said when working credentials were refused (a rotation); while there are none,
            // the failed reads say enough.
            if self.current().is_ok() {
                self.logger
                    .info("database authentication failed: reading the secret again")
                    .field("secret", self.arn.as_str())
                    .emit();
            }
            self.read_and_store(&mut last_read).await;
            self.current().map(|_| ())
        })
    }

    fn describe(&self) -> String {
        format!("Secrets Manager secret {}", self.arn)
    }
}
