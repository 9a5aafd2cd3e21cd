//! What the integration tests share: PostgreSQL clusters, the in-process server, a client.
#![allow(dead_code)] // each test binary uses its own part of the harness

pub mod app;
pub mod cbor_shim;
pub mod client;
pub mod haproxy;
pub mod imds;
pub mod load;
pub mod moto;
pub mod pg;
pub mod process;
pub mod relay;
pub mod strict_logs;
