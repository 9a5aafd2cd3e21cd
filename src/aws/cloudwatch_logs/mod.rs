//! CloudWatch Logs: every log line also goes to the group `CLOUDWATCH_LOG_GROUP`, in a stream
//! named after the instance. [`batch`] cuts calls within the API's limits, [`destination`]
//! makes the stream ready on a role that may not create groups, [`retry`] decides what a
//! failure means, [`request`] writes each batch's request body, [`sink`] is the bounded buffer
//! and the background shipper.

pub mod batch;
pub mod destination;
pub mod request;
pub mod retry;
pub mod sink;

pub use destination::Destination;
pub use sink::{start, test_call, CloudWatchLogsSink, Shipper, ShipperStats};
