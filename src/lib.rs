//! itemsd: the items service as one static binary.
//!
//! It serves the original Flask app's HTTP API on raw hyper over a deadpool-postgres pool,
//! keeps its health as state, and drains gracefully on SIGTERM.
//!
//! # Layout
//!
//! Requests flow down, never back up:
//!
//! - [`cli`]: parses the command line, loads [`config`], runs a subcommand.
//! - [`startup`]: builds the [`startup::Application`] (binds, builds the pool) and walks the
//!   shutdown timeline.
//! - [`http`]: the accept loop ([`http::server`]), the router, one file per resource
//!   ([`http::items`], [`http::info`], [`http::metrics`]), error mapping ([`http::error`]).
//! - [`health`]: health as state, kept by a background database probe.
//! - [`ops`]: the engineer's subcommands (`check`, `migrate`).
//! - [`db`]: the pool, the connections requests share (their statements pipelined), embedded
//!   migrations, one file per table. Knows nothing of HTTP.
//! - [`aws`]: one folder per AWS service (IMDSv2 identity, Secrets Manager credentials).
//!   Knows nothing of HTTP.
//! - [`telemetry`]: JSON log records and the metric registry.
//! - [`config`], [`identity`], [`shutdown`], [`systemd`], [`domain`], [`timefmt`]: the ground
//!   floor. [`domain`] holds validated inputs and knows nothing of HTTP, the database or AWS.

pub mod aws;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod health;
pub mod http;
pub mod identity;
pub mod ops;
pub mod shutdown;
pub mod startup;
pub mod systemd;
pub mod telemetry;
pub mod timefmt;
