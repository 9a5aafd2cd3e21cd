//! JSON log records, one object a line: `timestamp`, `level`, `msg`, then the record's fields.
//!
//! Records are built straight into a line buffer (no intermediate map) and handed to a
//! [`LogSink`]. The request path never blocks on output: the stdout sink appends to a bounded
//! in-memory buffer that a background thread writes out; when that buffer is full the record is
//! dropped and counted, and the count is reported in a later line.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use super::json::{needs_escape, push_json_str, push_plain_json_str};
use crate::timefmt::{self, Fraction};

/// Bytes of log lines the stdout sink holds before it drops new ones: enough for tens of
/// thousands of access-log lines while stdout (journald) is slow.
const STDOUT_BUFFER_BYTES: usize = 8 * 1024 * 1024;
/// How long the stdout writer lets lines gather after a write. Short enough that a line reaches
/// journald (and a test reading stdout) without a noticeable delay.
const STDOUT_LINGER: Duration = Duration::from_millis(5);
/// Capacity of a written batch's buffer kept for the next batch: a few times what the 5 ms of
/// lines under full load take (about 64 KiB), and not the megabytes a stall of stdout leaves.
const SPARE_KEPT_BYTES: usize = 1024 * 1024;
/// Capacity of a finished line kept for the thread's next record: a line seldom needs more
/// than its first 256 bytes, and a rare long one (an error's cause chain) is not held on to.
const LINE_KEPT_BYTES: usize = 4096;

thread_local! {
    /// The buffer of this thread's last finished line, emptied, for its next record: every
    /// request writes an access-log line, and a buffer of its own was an allocation and a free
    /// each (and new memory to warm up).
    static LINE_BUFFER: Cell<String> = const { Cell::new(String::new()) };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "DEBUG" => Some(Self::Debug),
            "INFO" => Some(Self::Info),
            "WARN" | "WARNING" => Some(Self::Warn),
            "ERROR" => Some(Self::Error),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        }
    }

    /// The text between a line's timestamp and its message, level included, as one literal:
    /// each `push_str` of a short piece is a call to `memcpy`, about thirty instructions.
    fn between_timestamp_and_msg(self) -> &'static str {
        match self {
            Self::Debug => "\",\"level\":\"DEBUG\",\"msg\":",
            Self::Info => "\",\"level\":\"INFO\",\"msg\":",
            Self::Warn => "\",\"level\":\"WARN\",\"msg\":",
            Self::Error => "\",\"level\":\"ERROR\",\"msg\":",
        }
    }
}

/// Where finished lines go. Implementations must not block for long: they run on the
/// request path.
pub trait LogSink: Send + Sync + 'static {
    /// Takes one complete JSON line (without the trailing newline) and the time its
    /// `timestamp` says, in Unix milliseconds.
    fn write_line(&self, line: &str, unix_ms: i64);
    /// Blocks until everything written so far is out, or `deadline` passes.
    fn flush(&self, deadline: Duration);
}

/// A cheap, cloneable handle that builds records and hands them to the sink.
#[derive(Clone)]
pub struct Logger {
    level: Level,
    sink: Arc<dyn LogSink>,
    /// A second sink attached once start-up knows where to ship logs (CloudWatch Logs needs
    /// the instance id first); shared by every clone, so handles made earlier ship too.
    extra: Arc<OnceLock<Arc<dyn LogSink>>>,
}

impl Logger {
    pub fn new(level: Level, sink: Arc<dyn LogSink>) -> Self {
        Self {
            level,
            sink,
            extra: Arc::new(OnceLock::new()),
        }
    }

    /// Sends every later line to `sink` as well. Only the first attachment takes effect.
    pub fn attach(&self, sink: Arc<dyn LogSink>) {
        let _ = self.extra.set(sink);
    }

    /// A logger writing to stdout through a background thread.
    pub fn stdout(level: Level) -> Self {
        Self::new(level, Arc::new(StdoutSink::start()))
    }

    pub fn enabled(&self, level: Level) -> bool {
        level >= self.level
    }

    pub fn record(&self, level: Level, msg: &str) -> Record<'_> {
        self.start(level, |line| {
            line.push_str(level.between_timestamp_and_msg());
            push_json_str(line, msg);
        })
    }

    /// A record of a message rendered beforehand (see [`Message`]).
    pub fn message(&self, message: &Message) -> Record<'_> {
        self.start(message.level, |line| line.push_str(&message.text))
    }

    /// A record at `level` whose text after the timestamp `level_and_msg` writes.
    fn start(&self, level: Level, level_and_msg: impl FnOnce(&mut String)) -> Record<'_> {
        if !self.enabled(level) {
            return Record {
                logger: self,
                line: None,
            };
        }
        // Outside the thread's lifetime (a record made while it exits) a buffer of its own.
        let mut line = LINE_BUFFER.try_with(Cell::take).unwrap_or_default();
        line.reserve(256);
        line.push_str("{\"timestamp\":\"");
        let unix_ms = timefmt::push_now(&mut line, Fraction::Millis);
        level_and_msg(&mut line);
        Record {
            logger: self,
            line: Some((line, unix_ms)),
        }
    }

    pub fn debug(&self, msg: &str) -> Record<'_> {
        self.record(Level::Debug, msg)
    }
    pub fn info(&self, msg: &str) -> Record<'_> {
        self.record(Level::Info, msg)
    }
    pub fn warn(&self, msg: &str) -> Record<'_> {
        self.record(Level::Warn, msg)
    }
    pub fn error(&self, msg: &str) -> Record<'_> {
        self.record(Level::Error, msg)
    }

    /// Waits (bounded) until every line logged so far has been written out (shipped first,
    /// then stdout, so the shipper's last words reach stdout too).
    pub fn flush(&self, deadline: Duration) {
        let started = std::time::Instant::now();
        if let Some(extra) = self.extra.get() {
            extra.flush(deadline);
        }
        self.sink.flush(deadline.saturating_sub(started.elapsed()));
    }

    /// Waits (bounded) until every line logged so far is on stdout; not for the shipper.
    pub fn flush_stdout(&self, deadline: Duration) {
        self.sink.flush(deadline);
    }
}

/// A level and a message rendered into their JSON text once, for [`Logger::message`]: the
/// access log's message was escaped again on every request.
#[derive(Clone, Debug)]
pub struct Message {
    level: Level,
    /// The line's text from the timestamp's closing quote through the message.
    text: String,
}

impl Message {
    pub fn new(level: Level, msg: &str) -> Self {
        let mut text = String::from(level.between_timestamp_and_msg());
        push_json_str(&mut text, msg);
        Self { level, text }
    }
}

/// One record under construction; `emit` sends it. Dropping it unsent sends nothing.
#[must_use = "call .emit() to write the record"]
pub struct Record<'a> {
    logger: &'a Logger,
    /// The line so far and the time its `timestamp` says (Unix milliseconds, for sinks that
    /// need it as a number: read from the clock once, with the text). `None` when the level is
    /// filtered out, so disabled records cost no formatting.
    line: Option<(String, i64)>,
}

impl Record<'_> {
    /// `key` is a name in the code, never data: it is written as it is, unescaped.
    pub fn field(mut self, key: &'static str, value: impl LogValue) -> Self {
        if let Some((line, _)) = self.line.as_mut() {
            push_member(line, key, value);
        }
        self
    }

    /// Adds fields rendered once, for values fixed for the process that many lines carry.
    pub fn fields(mut self, fields: &Fields) -> Self {
        if let Some((line, _)) = self.line.as_mut() {
            line.push_str(&fields.0);
        }
        self
    }

    /// Adds `error` with the whole cause chain (see [`cause_chain`]).
    pub fn error_chain(self, err: &(dyn std::error::Error + 'static)) -> Self {
        self.field("error", cause_chain(err))
    }

    pub fn emit(self) {
        if let Some((mut line, unix_ms)) = self.line {
            line.push('}');
            self.logger.sink.write_line(&line, unix_ms);
            if let Some(extra) = self.logger.extra.get() {
                extra.write_line(&line, unix_ms);
            }
            if line.capacity() <= LINE_KEPT_BYTES {
                line.clear();
                let _ = LINE_BUFFER.try_with(|kept| kept.set(line));
            }
        }
    }
}

/// Fields rendered into their JSON text once, for [`Record::fields`]: the access log's values
/// that never change (the instance id, a route's template) were each escaped again on every
/// line (callgrind: about 250 instructions a field).
#[derive(Clone, Debug, Default)]
pub struct Fields(String);

impl Fields {
    /// `key` as in [`Record::field`].
    pub fn with(mut self, key: &'static str, value: impl LogValue) -> Self {
        push_member(&mut self.0, key, value);
        self
    }
}

/// Appends `,"key":value`.
fn push_member(line: &mut String, key: &'static str, value: impl LogValue) {
    debug_assert!(
        !key.bytes().any(needs_escape),
        "log field names are plain: {key:?}"
    );
    // The punctuation a byte at a time: a `push_str` of two bytes is a call to `memcpy`.
    line.reserve(key.len() + 4);
    line.push(',');
    line.push('"');
    line.push_str(key);
    line.push('"');
    line.push(':');
    value.write_json(line);
}

/// An error and its causes, outermost first, joined by ": ".
pub fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Many errors repeat their source's text in their own; say each part once.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A value that can be written as JSON into a log line.
pub trait LogValue {
    fn write_json(&self, out: &mut String);
}

impl LogValue for &str {
    fn write_json(&self, out: &mut String) {
        push_json_str(out, self);
    }
}
impl LogValue for &String {
    fn write_json(&self, out: &mut String) {
        push_json_str(out, self);
    }
}
impl LogValue for String {
    fn write_json(&self, out: &mut String) {
        push_json_str(out, self);
    }
}
/// Text that holds nothing JSON escapes by how it was made (an id itemsd generated, an HTTP
/// method, which is a token): written as it is, without the scan for bytes to escape.
pub struct Plain<'a>(pub &'a str);

impl LogValue for Plain<'_> {
    fn write_json(&self, out: &mut String) {
        push_plain_json_str(out, self.0);
    }
}
impl LogValue for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}
macro_rules! integer_log_value {
    ($($t:ty),*) => {$(
        impl LogValue for $t {
            fn write_json(&self, out: &mut String) {
                out.push_str(itoa::Buffer::new().format(*self));
            }
        }
    )*};
}
integer_log_value!(u16, u32, u64, usize, i32, i64);
impl LogValue for f64 {
    fn write_json(&self, out: &mut String) {
        if self.is_finite() {
            let _ = write!(out, "{:.3}", self);
        } else {
            out.push_str("null");
        }
    }
}
/// A duration, as milliseconds with three decimals (the fields that take one end in `_ms`):
/// fixed-point from whole microseconds, without float formatting on every access-log line.
impl LogValue for Duration {
    fn write_json(&self, out: &mut String) {
        let micros = u64::try_from(self.as_micros()).unwrap_or(u64::MAX);
        push_fixed(out, micros, 1000);
    }
}

/// Appends `n / scale` with as many decimals as `scale` has zeros (`scale` a power of ten).
pub fn push_fixed(out: &mut String, n: u64, scale: u64) {
    let mut digits = itoa::Buffer::new();
    out.push_str(digits.format(n / scale));
    out.push('.');
    let frac = digits.format(n % scale + scale);
    // `n % scale + scale` is `1` followed by the zero-padded decimals.
    out.push_str(&frac[1..]);
}

impl<T: LogValue> LogValue for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(v) => v.write_json(out),
            None => out.push_str("null"),
        }
    }
}

/// Writes lines to stdout from a background thread, so a slow reader of stdout (journald under
/// pressure, a full pipe) never stalls a request.
pub struct StdoutSink {
    shared: Arc<StdoutShared>,
}

struct StdoutShared {
    /// Lines waiting for the writer thread, and whether the writer is mid-write (so `flush`
    /// knows when output has really caught up).
    state: Mutex<StdoutState>,
    /// Wakes the writer when lines arrive, and flushers when the writer catches up.
    changed: Condvar,
    /// Lines dropped because the buffer was full; reported and reset by the writer.
    dropped: AtomicU64,
}

#[derive(Default)]
struct StdoutState {
    pending: Vec<u8>,
    writing: bool,
    /// Whether the writer sleeps on the condition variable, so a new line must wake it; while
    /// it writes or lingers, lines are added without a wake-up (a system call each).
    writer_waiting: bool,
}

impl StdoutSink {
    pub fn start() -> Self {
        Self::start_writing_to(std::io::stdout())
    }

    /// The same sink writing to `out` (a test's buffer instead of stdout).
    fn start_writing_to(out: impl std::io::Write + Send + 'static) -> Self {
        let shared = Arc::new(StdoutShared {
            state: Mutex::new(StdoutState::default()),
            changed: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        let writer = Arc::clone(&shared);
        // A plain thread, not a tokio task: it blocks on stdout by design and must keep working
        // outside a runtime (the CLI subcommands) and while the runtime shuts down.
        let spawned = std::thread::Builder::new()
            .name("itemsd-stdout".into())
            .spawn(move || writer.run(out));
        if spawned.is_err() {
            // Without the thread, lines would pile up unseen; say so where it can be seen.
            eprintln!("itemsd: could not start the log writer thread; logs go nowhere");
        }
        Self { shared }
    }
}

impl StdoutShared {
    fn run(&self, mut stdout: impl std::io::Write) {
        // The last batch's buffer, emptied, becomes the next one's: a fresh vector each batch
        // was regrown from nothing by the request path, copying each line again as it grew.
        let mut spare = Vec::new();
        loop {
            let mut batch = {
                let Ok(mut state) = self.state.lock() else {
                    return;
                };
                while state.pending.is_empty() {
                    state.writing = false;
                    self.changed.notify_all();
                    state.writer_waiting = true;
                    state = match self.changed.wait(state) {
                        Ok(s) => s,
                        Err(_) => return,
                    };
                    state.writer_waiting = false;
                }
                state.writing = true;
                std::mem::replace(&mut state.pending, std::mem::take(&mut spare))
            };
            let _ = stdout.write_all(&batch);
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                let mut line = String::new();
                line.push_str("{\"timestamp\":\"");
                timefmt::push_now(&mut line, Fraction::Millis);
                let _ = writeln!(
                    line,
                    "\",\"level\":\"WARN\",\"msg\":\"log lines dropped: stdout too slow\",\"dropped\":{dropped}}}"
                );
                let _ = stdout.write_all(line.as_bytes());
            }
            let _ = stdout.flush();
            batch.clear();
            if batch.capacity() <= SPARE_KEPT_BYTES {
                spare = batch;
            }
            // Under load, let lines gather rather than wake this thread for each one: a wake-up
            // per access-log line was a context switch per request. Idle, the first line still
            // wakes it at once.
            std::thread::sleep(STDOUT_LINGER);
        }
    }
}

impl LogSink for StdoutSink {
    fn write_line(&self, line: &str, _unix_ms: i64) {
        let Ok(mut state) = self.shared.state.lock() else {
            return;
        };
        if state.pending.len() + line.len() + 1 > STDOUT_BUFFER_BYTES {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        state.pending.extend_from_slice(line.as_bytes());
        state.pending.push(b'\n');
        let wake = state.writer_waiting;
        drop(state);
        if wake {
            self.shared.changed.notify_all();
        }
    }

    fn flush(&self, deadline: Duration) {
        let Ok(state) = self.shared.state.lock() else {
            return;
        };
        let _ = self
            .shared
            .changed
            .wait_timeout_while(state, deadline, |s| !s.pending.is_empty() || s.writing);
    }
}

/// Keeps lines in memory: for tests that assert on what was logged.
#[derive(Default)]
pub struct MemorySink {
    lines: Mutex<Vec<String>>,
}

impl MemorySink {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl LogSink for MemorySink {
    fn write_line(&self, line: &str, _unix_ms: i64) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line.to_owned());
        }
    }
    fn flush(&self, _deadline: Duration) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes a test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_stdout_writer_writes_each_line_once_across_batches() {
        let out = Captured::default();
        let sink = StdoutSink::start_writing_to(out.clone());
        // Each flush ends a batch, so the later lines go into the first batch's buffer, reused.
        let mut expected = String::new();
        for batch in 0..3 {
            for i in 0..4 {
                let line = format!("{{\"batch\":{batch},\"line\":{i}}}");
                sink.write_line(&line, 0);
                expected.push_str(&line);
                expected.push('\n');
            }
            sink.flush(Duration::from_secs(10));
        }
        assert_eq!(
            String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
            expected
        );
    }

    #[test]
    fn records_are_one_json_object_with_the_promised_fields() {
        let sink = Arc::new(MemorySink::default());
        let logger = Logger::new(Level::Info, sink.clone());
        logger
            .info("request \"done\"\n")
            .field("method", "GET")
            .field("status", 200u16)
            .field("response_time_ms", 1.5f64)
            .field("request_id", Some("abc"))
            .emit();
        logger.debug("filtered out").emit();
        let lines = sink.lines();
        assert_eq!(lines.len(), 1, "debug must be filtered at INFO");
        let v: serde_json::Value = serde_json::from_str(&lines[0]).expect("valid JSON");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["msg"], "request \"done\"\n");
        assert_eq!(v["method"], "GET");
        assert_eq!(v["status"], 200);
        assert_eq!(v["response_time_ms"], 1.5);
        assert_eq!(v["request_id"], "abc");
        assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    #[test]
    fn fields_rendered_once_read_as_fields_given_each_time() {
        let sink = Arc::new(MemorySink::default());
        let logger = Logger::new(Level::Info, sink.clone());
        let fixed = Fields::default().with("route", "/a\"b").with("port", 80u16);
        logger.info("m").fields(&fixed).field("after", true).emit();
        logger
            .info("m")
            .field("route", "/a\"b")
            .field("port", 80u16)
            .field("after", true)
            .emit();
        let lines = sink.lines();
        let past_timestamp =
            |line: &str| line[line.find(",\"level\"").expect("a level")..].to_owned();
        assert_eq!(past_timestamp(&lines[0]), past_timestamp(&lines[1]));
        let v: serde_json::Value = serde_json::from_str(&lines[0]).expect("valid JSON");
        assert_eq!(v["route"], "/a\"b");
        assert_eq!(v["port"], 80);
        assert_eq!(v["after"], true);
    }

    /// A message rendered once makes the line a message given each time makes, at its level,
    /// and is filtered out by level the same way; `Plain` text reads as the same string.
    #[test]
    fn messages_rendered_once_read_as_messages_given_each_time() {
        let sink = Arc::new(MemorySink::default());
        let logger = Logger::new(Level::Info, sink.clone());
        let msg = "done \"now\"\n";
        logger
            .message(&Message::new(Level::Warn, msg))
            .field("method", Plain("GET"))
            .emit();
        logger.warn(msg).field("method", "GET").emit();
        logger.message(&Message::new(Level::Debug, msg)).emit();
        let lines = sink.lines();
        assert_eq!(lines.len(), 2, "the debug line is filtered out: {lines:?}");
        let past_timestamp =
            |line: &str| line[line.find(",\"level\"").expect("a level")..].to_owned();
        assert_eq!(past_timestamp(&lines[0]), past_timestamp(&lines[1]));
        let v: serde_json::Value = serde_json::from_str(&lines[0]).expect("valid JSON");
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["msg"], msg);
        assert_eq!(v["method"], "GET");
    }

    #[test]
    fn every_level_is_named_in_its_lines() {
        let sink = Arc::new(MemorySink::default());
        let logger = Logger::new(Level::Debug, sink.clone());
        let levels = [Level::Debug, Level::Info, Level::Warn, Level::Error];
        for level in levels {
            logger.record(level, "m").emit();
        }
        let named: Vec<String> = sink
            .lines()
            .iter()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
                assert_eq!(v["msg"], "m", "{line}");
                v["level"].as_str().unwrap_or_default().to_owned()
            })
            .collect();
        assert_eq!(named, ["DEBUG", "INFO", "WARN", "ERROR"]);
        for level in levels {
            assert_eq!(Level::parse(level.as_str()), Some(level));
        }
    }

    #[test]
    fn durations_are_milliseconds_with_three_decimals() {
        let cases = [
            (Duration::from_micros(1_234), "1.234"),
            (Duration::from_micros(7), "0.007"),
            (Duration::from_nanos(2_500_999), "2.500"),
            (Duration::from_secs(3), "3000.000"),
        ];
        for (d, text) in cases {
            let mut out = String::new();
            d.write_json(&mut out);
            assert_eq!(out, text, "{d:?}");
        }
    }

    #[test]
    fn error_chain_names_every_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let sink = Arc::new(MemorySink::default());
        let logger = Logger::new(Level::Info, sink.clone());
        let err = Outer(std::io::Error::other("inner cause"));
        logger.error("failed").error_chain(&err).emit();
        let v: serde_json::Value = serde_json::from_str(&sink.lines()[0]).expect("json");
        assert_eq!(v["error"], "outer: inner cause");
    }
}
