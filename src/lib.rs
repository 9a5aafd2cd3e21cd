//! itemsd: the items service as one static binary.
//!
//! It serves the original Flask app's HTTP API on raw hyper over a deadpool-postgres pool,
//! keeps its health as state, and drains gracefully on SIGTERM.
//!
//! # Layout
//!
//! Requests flow down, never back up (docs/design.md §5):
//!
//! - [`cli`]: parses the command line, loads [`config`], runs a subcommand (`main.rs` only
//!   hands over to it).
//! - [`startup`]: builds the [`startup::Application`] (learns identity and credentials, binds,
//!   builds the pool, starts the log shipper and the metric publisher) and walks the shutdown
//!   timeline (docs/design.md §3).
//! - [`http`]: the accept loop ([`http::server`]), the router ([`http::router`]), one file per
//!   resource ([`http::items`], [`http::info`], [`http::metrics`]), request bodies within their
//!   limits ([`http::body`]), error mapping ([`http::error`]) and response building
//!   ([`http::response`]); [`http::status`] is `/status`, for this host only.
//! - [`health`]: health as state, kept by a background database probe (docs/design.md §2).
//! - [`ops`]: the engineer's subcommands (`check`, `migrate`, and [`ops::status`] asking the
//!   running process through [`http::status`]).
//! - [`duties`]: the background duties' owner (start, stop in order within one budget, their
//!   last success and last error).
//! - [`aws`]: one folder per AWS service, its limits as named constants (docs/design.md §4):
//!   [`aws::imds`] (IMDSv2 identity), [`aws::secrets`] (Secrets Manager credentials),
//!   [`aws::rds_iam`] (database logins by IAM token),
//!   [`aws::cloudwatch_logs`] (batching, the request body, retry, the log stream, the bounded
//!   buffer and its shipper), [`aws::cloudwatch_metrics`] (host metrics, data and calls within
//!   the limits, retry, the publisher), and [`aws::resolve`] (what start-up learns before
//!   serving). Knows nothing of HTTP; [`aws::secrets`] implements the credential source of
//!   [`db::credentials`].
//! - [`db`]: the pool ([`db::pool`]), the connections requests share, their statements
//!   pipelined ([`db::shared`]), TLS with libpq's modes ([`db::tls`]), where credentials come
//!   from ([`db::credentials`]), embedded migrations ([`db::migrations`]), the serving role's grants
//!   ([`db::roles`]), one file per table
//!   ([`db::items`]) and what `/db` reports ([`db::info`]). Knows nothing of HTTP.
//! - [`telemetry`]: JSON log records ([`telemetry::log`]), JSON string literals for them and
//!   for the PutLogEvents body ([`telemetry::json`]), the metric registry
//!   ([`telemetry::metrics`]) and process metrics ([`telemetry::process`]).
//! - The ground floor: [`config`] (the environment, validated), [`identity`] (who this
//!   instance is), [`shutdown`] (signals as drain and hurry requests), [`systemd`] (the notify
//!   protocol), [`domain`] (validated inputs; knows nothing of HTTP, the database or AWS) and
//!   [`timefmt`] (ISO 8601 timestamps).

/// The commit this binary was built from (`ITEMSD_COMMIT` at build time, set by
/// packaging/build-release.sh), for `itemsd status` and `--version` readers.
pub const BUILD_COMMIT: &str = match option_env!("ITEMSD_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

pub mod aws;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod duties;
pub mod health;
pub mod http;
pub mod identity;
pub mod ops;
pub mod shutdown;
pub mod startup;
pub mod systemd;
pub mod telemetry;
pub mod timefmt;
