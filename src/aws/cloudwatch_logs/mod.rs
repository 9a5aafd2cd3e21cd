//! CloudWatch Logs: every log line also goes to the group `CLOUDWATCH_LOG_GROUP`, in a stream
//! named after the instance. [`batch`] cuts calls within the API's limits, [`retry`] decides
//! what a failure means, [`sink`] is the bounded buffer and the background shipper.

pub mod batch;
pub mod retry;
pub mod sink;

pub use sink::{start, test_call, CloudWatchLogsSink, Destination, ShipperStats};
