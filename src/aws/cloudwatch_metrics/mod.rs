//! CloudWatch metrics: the application's figures and the host's (under the CloudWatch agent's
//! names), every interval, under `CLOUDWATCH_NAMESPACE`. [`host`] reads /proc and statfs,
//! [`datum`] builds data and splits calls within the limits, [`retry`] classifies failures,
//! [`publisher`] is the background task.

pub mod datum;
pub mod host;
pub mod publisher;
pub mod retry;

pub use publisher::{test_call, AppReader, AppSnapshot, Publisher, PublisherStats, Who};
