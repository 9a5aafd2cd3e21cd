//! Errors as clients see them: the original body shape `{"error", "message", "status"}`, with a
//! message that says what to fix for client errors and nothing internal for server errors. The
//! cause, when there is one, goes to the log only.

use std::borrow::Cow;

use http::StatusCode;

use crate::db::DbError;
use crate::domain::ValidationError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: Cow<'static, str>,
    /// For 405: the methods the route accepts.
    pub allow: Option<&'static str>,
    /// For 503 when overloaded: seconds the client should wait.
    pub retry_after: Option<u32>,
    /// Close the connection after answering (the request body was not read to its end).
    pub close: bool,
    /// What went wrong inside, for the log.
    pub cause: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            allow: None,
            retry_after: None,
            close: false,
            cause: None,
        }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("this resource accepts {allow}"),
            )
        }
    }

    pub fn overloaded() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many requests in progress; retry shortly",
            )
        }
    }

    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    pub fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Box::new(cause));
        self
    }

    /// The body, as the original app shaped it.
    pub fn body(&self) -> Vec<u8> {
        let body = serde_json::json!({
            "error": self.status.canonical_reason().unwrap_or("Error"),
            "message": self.message,
            "status": self.status.as_u16(),
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::bad_request(e.0)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        let code = e.sqlstate().map(str::to_owned);
        let (status, message) = match code.as_deref() {
            // Data exceptions: input validation should have caught it; still the client's.
            Some(c) if c.starts_with("22") => (StatusCode::BAD_REQUEST, "invalid value"),
            // Integrity constraints (a CHECK or trigger added by an operator): the value, not
            // the service, is at fault.
            Some(c) if c.starts_with("23") => (
                StatusCode::CONFLICT,
                "item conflicts with a database constraint",
            ),
            // Query canceled (statement timeout).
            Some("57014") => (StatusCode::SERVICE_UNAVAILABLE, "database timed out"),
            // A read-only server: a standby not promoted yet, mid-failover.
            Some("25006") => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
            // Undefined table: the schema is not migrated yet.
            Some("42P01") => (StatusCode::SERVICE_UNAVAILABLE, "database not ready"),
            // Connection exceptions, resources, operator intervention, auth: the database is
            // unreachable for now.
            Some(c)
                if c.starts_with("08")
                    || c.starts_with("53")
                    || c.starts_with("57")
                    || c.starts_with("28") =>
            {
                (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
            }
            Some(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "unexpected database error",
            ),
            // No SQLSTATE: pool timeout, closed socket, connect failure.
            None => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
        };
        Self::new(status, message).with_cause(e)
    }
}
