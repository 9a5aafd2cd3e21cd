//! The background shipper: a bounded in-memory buffer that the request path appends to without
//! waiting, and a task that drains it into PutLogEvents calls.
//!
//! When the buffer is full the oldest events are dropped and counted; the count is reported in
//! a log line that is itself shipped once CloudWatch accepts again. Nothing is lost while
//! CloudWatch is merely slow or briefly down and the buffer holds.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_cloudwatchlogs::Client;
use tokio::sync::Notify;

use super::batch::{self, Event};
use super::destination::{self, Destination, DestinationError};
use super::request::{self, BodyWriter};
use super::retry::{self, Action, Backoff};
use crate::duties::{DutyState, Stop};
use crate::telemetry::log::{LogSink, Logger};

/// Ship early, without waiting for the flush interval, once this much is buffered: a full
/// batch is ready and waiting longer only adds latency to the logs.
const SHIP_NOW_BYTES: usize = batch::MAX_BATCH_BYTES / 2;

/// A full batch is waiting: ship it without waiting for the flush interval.
fn ship_now(buf: &Buffer) -> bool {
    buf.bytes >= SHIP_NOW_BYTES || buf.events.len() >= batch::MAX_BATCH_EVENTS
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The shipper's own counters, for `/metrics` and CloudWatch.
#[derive(Default)]
pub struct ShipperStats {
    pub shipped: AtomicU64,
    /// Dropped because the buffer was full (the oldest went).
    pub dropped: AtomicU64,
    /// Dropped because CloudWatch would reject them (too old, too new) or refused a batch.
    pub rejected: AtomicU64,
    pub truncated: AtomicU64,
    /// Calls retried after a failure, whatever the failure (each after a backoff).
    pub retries: AtomicU64,
    /// Attempts to make the group or stream ready that failed.
    pub destination_failures: AtomicU64,
    pub batches: AtomicU64,
    pub buffered_bytes: AtomicU64,
    /// Unix milliseconds of the last failed call, 0 if none.
    pub last_error_ms: AtomicI64,
}

impl ShipperStats {
    /// Seconds since the last failed call, if there was one.
    pub fn last_error_age(&self) -> Option<f64> {
        match self.last_error_ms.load(Ordering::Relaxed) {
            0 => None,
            t => Some((now_ms() - t).max(0) as f64 / 1000.0),
        }
    }
}

struct Buffer {
    events: VecDeque<Event>,
    bytes: usize,
    /// Timestamp of the newest event: new events never go back in time, so every batch is in
    /// chronological order even if the clock steps back.
    last_ms: i64,
    /// Drops not yet reported in a log line.
    unreported_drops: u64,
    /// A batch taken out of the buffer and not yet accepted.
    in_flight: bool,
    /// Set by `flush`: ship everything now.
    flush_requested: bool,
}

struct Shared {
    buffer: Mutex<Buffer>,
    /// Wakes flushers when the buffer empties.
    drained: Condvar,
    /// Wakes the task when there is reason to ship early.
    wake: Notify,
    capacity: usize,
    stats: Arc<ShipperStats>,
}

/// The [`LogSink`] half, handed to the logger.
pub struct CloudWatchLogsSink {
    shared: Arc<Shared>,
}

impl LogSink for CloudWatchLogsSink {
    fn write_line(&self, line: &str, unix_ms: i64) {
        let (event, truncated) = Event::new(0, line.to_owned());
        let shared = &self.shared;
        let Ok(mut buf) = shared.buffer.lock() else {
            return;
        };
        // The line's own time, so the event's timestamp is the one its text carries (and the
        // clock is not read a second time for it).
        let event = Event {
            timestamp_ms: unix_ms.max(buf.last_ms),
            ..event
        };
        buf.last_ms = event.timestamp_ms;
        let size = event.size();
        while buf.bytes + size > shared.capacity {
            let Some(old) = buf.events.pop_front() else {
                break;
            };
            buf.bytes -= old.size();
            buf.unreported_drops += 1;
            shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
        if size > shared.capacity {
            buf.unreported_drops += 1;
            shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if truncated {
            shared.stats.truncated.fetch_add(1, Ordering::Relaxed);
        }
        buf.bytes += size;
        buf.events.push_back(event);
        shared
            .stats
            .buffered_bytes
            .store(buf.bytes as u64, Ordering::Relaxed);
        let ship_now = ship_now(&buf);
        drop(buf);
        if ship_now {
            shared.wake.notify_one();
        }
    }

    fn flush(&self, deadline: Duration) {
        let shared = &self.shared;
        if let Ok(mut buf) = shared.buffer.lock() {
            buf.flush_requested = true;
        }
        shared.wake.notify_one();
        let Ok(buf) = shared.buffer.lock() else {
            return;
        };
        let _ = shared
            .drained
            .wait_timeout_while(buf, deadline, |b| !b.events.is_empty() || b.in_flight);
    }
}

/// Makes the sink for the logger, the stats, and the shipper: a duty for
/// [`crate::duties::Duties`] to start ([`Shipper::run`]).
pub fn start(
    client: Client,
    destination: Destination,
    capacity: usize,
    backoff: Backoff,
    logger: Logger,
    state: Arc<DutyState>,
) -> (Arc<CloudWatchLogsSink>, Arc<ShipperStats>, Shipper) {
    let stats = Arc::new(ShipperStats::default());
    let shared = Arc::new(Shared {
        buffer: Mutex::new(Buffer {
            events: VecDeque::new(),
            bytes: 0,
            last_ms: 0,
            unreported_drops: 0,
            in_flight: false,
            flush_requested: false,
        }),
        drained: Condvar::new(),
        wake: Notify::new(),
        capacity,
        stats: Arc::clone(&stats),
    });
    let shipper = Shipper {
        client,
        destination,
        shared: Arc::clone(&shared),
        backoff,
        logger,
        destination_failing: AtomicBool::new(false),
        state,
        body: BodyWriter::default(),
    };
    (Arc::new(CloudWatchLogsSink { shared }), stats, shipper)
}

pub struct Shipper {
    client: Client,
    destination: Destination,
    shared: Arc<Shared>,
    /// Waits between the attempts of a batch, whatever the failure.
    backoff: Backoff,
    logger: Logger,
    /// Set while making the destination ready keeps failing: its cause is logged once, when it
    /// starts failing, not at every retry (the retries are counted in `/metrics`).
    destination_failing: AtomicBool,
    /// Last success and last error, for `/metrics` and `itemsd status`.
    state: Arc<DutyState>,
    /// Writes each batch's request body, into memory kept from one batch to the next.
    body: BodyWriter,
}

impl Shipper {
    /// Ships every `flush_interval` (sooner when a batch is ready) until told to stop, then
    /// ships what is buffered and returns (within the deadline its owner gives).
    pub async fn run(mut self, flush_interval: Duration, mut stop: Stop) {
        self.ensure_destination().await;
        loop {
            let last = tokio::select! {
                () = tokio::time::sleep(flush_interval) => false,
                () = self.shared.wake.notified() => false,
                () = stop.requested() => true,
            };
            self.ship_all(last).await;
            if last {
                return;
            }
        }
    }

    /// Ships what is buffered, then goes on only while a batch's worth is waiting, or until
    /// the buffer is empty when a flush (or the stop) asks for everything. Lines that arrive
    /// during a call wait for the next tick: under steady load a call goes out every flush
    /// interval or every half batch, not after every round trip with the few lines that came
    /// in meanwhile (each call costs a SigV4 signature and a round trip, whatever it carries).
    async fn ship_all(&mut self, drain: bool) {
        loop {
            let (batch, drops) = {
                let Ok(mut buf) = self.shared.buffer.lock() else {
                    return;
                };
                let batch = batch::take(&mut buf.events, now_ms());
                buf.bytes -= batch.bytes();
                self.shared
                    .stats
                    .buffered_bytes
                    .store(buf.bytes as u64, Ordering::Relaxed);
                buf.in_flight = !batch.events.is_empty();
                if !buf.in_flight {
                    buf.flush_requested = false;
                    self.shared.drained.notify_all();
                }
                (batch, std::mem::take(&mut buf.unreported_drops))
            };
            let rejected = batch.too_old + batch.too_new;
            self.shared
                .stats
                .rejected
                .fetch_add(rejected, Ordering::Relaxed);
            if batch.events.is_empty() {
                self.report_drops(drops);
                return;
            }
            self.send(batch.events).await;
            // Reported after a success, so the line has a chance of being shipped itself.
            self.report_drops(drops);
            let Ok(mut buf) = self.shared.buffer.lock() else {
                return;
            };
            buf.in_flight = false;
            if buf.events.is_empty() {
                self.shared.drained.notify_all();
            }
            if !(drain || buf.flush_requested || ship_now(&buf)) {
                return;
            }
        }
    }

    fn report_drops(&self, drops: u64) {
        if drops > 0 {
            self.logger
                .warn("log events dropped: the CloudWatch Logs buffer was full")
                .field("dropped", drops)
                .field(
                    "dropped_total",
                    self.shared.stats.dropped.load(Ordering::Relaxed),
                )
                .emit();
        }
    }

    /// Sends one batch until it is accepted or known to be refused for good.
    async fn send(&mut self, events: Vec<Event>) {
        let count = events.len() as u64;
        let body = self.body.write(&self.destination, &events);
        // The events are in the body now; their memory goes back before the first attempt.
        drop(events);
        let mut attempt = 0;
        let mut previous = None;
        loop {
            let attempt_body = body.clone();
            let result = self
                .client
                .put_log_events()
                .log_group_name(&self.destination.group)
                .log_stream_name(&self.destination.stream)
                .customize()
                .mutate_request(move |request| request::replace_body(request, &attempt_body))
                .send()
                .await;
            let err = match result {
                Ok(_) => {
                    self.state.succeeded();
                    self.shared
                        .stats
                        .shipped
                        .fetch_add(count, Ordering::Relaxed);
                    self.shared.stats.batches.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(err) => err,
            };
            self.shared
                .stats
                .last_error_ms
                .store(now_ms(), Ordering::Relaxed);
            let action = retry::classify(&err);
            self.state.failed(format!(
                "PutLogEvents: {}",
                aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&err)
            ));
            // Once for a batch, and again only when the failure changes: a failure that lasts
            // is one line and a rising retry counter, not a line per retry. Stdout only would
            // be better here, but the line also waits in the buffer and tells CloudWatch, later,
            // that it was away.
            if previous != Some(action) {
                self.logger
                    .warn("PutLogEvents failed")
                    .field("action", format!("{action:?}"))
                    .field("attempt", attempt + 1)
                    .error_chain(&err)
                    .emit();
            }
            match action {
                Action::Drop => {
                    self.shared
                        .stats
                        .rejected
                        .fetch_add(count, Ordering::Relaxed);
                    return;
                }
                Action::Recreate => self.ensure_destination().await,
                Action::Retry => {}
            }
            // Every path that tries again waits first, however it failed.
            self.shared.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.backoff.wait(attempt)).await;
            previous = Some(action);
            attempt += 1;
        }
    }

    /// Makes the stream (and, only when it is missing, the group) ready; a failure is counted,
    /// logged when failing starts, and the next PutLogEvents (or its ResourceNotFound) tries
    /// again after its backoff.
    async fn ensure_destination(&self) {
        let Err(e) = destination::ensure(&self.client, &self.destination).await else {
            self.destination_failing.store(false, Ordering::Relaxed);
            return;
        };
        self.state.failed(crate::telemetry::log::cause_chain(&e));
        self.shared
            .stats
            .destination_failures
            .fetch_add(1, Ordering::Relaxed);
        self.shared
            .stats
            .last_error_ms
            .store(now_ms(), Ordering::Relaxed);
        if self.destination_failing.swap(true, Ordering::Relaxed) {
            return;
        }
        let record = match &e {
            DestinationError::GroupMissing { .. } => self
                .logger
                .error("log group missing: logs wait in the buffer until it exists"),
            DestinationError::Call(_) => self.logger.warn("could not create the log stream"),
        };
        record
            .field("group", self.destination.group.as_str())
            .field("stream", self.destination.stream.as_str())
            .error_chain(&e)
            .emit();
    }
}

/// Creates the group and stream if needed and puts one event, for `itemsd check`.
pub async fn test_call(client: &Client, destination: &Destination) -> Result<(), String> {
    destination::ensure(client, destination)
        .await
        .map_err(|e| e.to_string())?;
    let event = InputLogEvent::builder()
        .timestamp(now_ms())
        .message(r#"{"level":"INFO","msg":"itemsd check: test event"}"#)
        .build()
        .map_err(|e| e.to_string())?;
    client
        .put_log_events()
        .log_group_name(&destination.group)
        .log_stream_name(&destination.stream)
        .log_events(event)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e).to_string())
}
