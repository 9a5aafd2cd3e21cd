//! Log records and metrics: the ground floor that everything above reports through.

pub mod json;
pub mod log;
pub mod metrics;
pub mod process;
