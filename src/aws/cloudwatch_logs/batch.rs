//! Cutting the buffer into PutLogEvents calls that CloudWatch Logs accepts: every limit of the
//! API is a named constant here, and a batch never breaks one of them.

use std::collections::VecDeque;

/// Most events in one PutLogEvents call.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Most bytes in one call, counting each message's UTF-8 bytes plus [`EVENT_OVERHEAD_BYTES`].
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// What CloudWatch Logs adds to each message when it counts a batch's size.
pub const EVENT_OVERHEAD_BYTES: usize = 26;
/// Largest single event, overhead included; longer messages are truncated (and counted).
pub const MAX_EVENT_BYTES: usize = 262_144;
/// One call may not span more than 24 hours from its first event to its last.
pub const MAX_BATCH_SPAN_MS: i64 = 24 * 3600 * 1000;
/// Events older than 14 days are rejected by the service.
pub const MAX_EVENT_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// Events more than 2 hours in the future are rejected by the service.
pub const MAX_EVENT_FUTURE_MS: i64 = 2 * 3600 * 1000;

const TRUNCATION_MARK: &str = "...[truncated by itemsd]";

/// One log line waiting to be shipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub timestamp_ms: i64,
    pub message: String,
}

impl Event {
    /// Bytes this event counts for in a batch.
    pub fn size(&self) -> usize {
        self.message.len() + EVENT_OVERHEAD_BYTES
    }

    /// Builds an event, truncating a message too large for one event. Returns whether it was
    /// truncated.
    pub fn new(timestamp_ms: i64, mut message: String) -> (Self, bool) {
        let limit = MAX_EVENT_BYTES - EVENT_OVERHEAD_BYTES;
        let truncated = message.len() > limit;
        if truncated {
            let mut cut = limit - TRUNCATION_MARK.len();
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(TRUNCATION_MARK);
        }
        (
            Self {
                timestamp_ms,
                message,
            },
            truncated,
        )
    }
}

/// Events for one call, and what was left out of it for good.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub events: Vec<Event>,
    /// Dropped: older than the service accepts.
    pub too_old: u64,
    /// Dropped: further in the future than the service accepts.
    pub too_new: u64,
}

impl Batch {
    pub fn bytes(&self) -> usize {
        self.events.iter().map(Event::size).sum()
    }
}

/// Takes the next batch from the front of `queue` (which is in chronological order).
pub fn take(queue: &mut VecDeque<Event>, now_ms: i64) -> Batch {
    let mut batch = Batch::default();
    let mut bytes = 0;
    while let Some(event) = queue.front() {
        if event.timestamp_ms < now_ms - MAX_EVENT_AGE_MS {
            queue.pop_front();
            batch.too_old += 1;
            continue;
        }
        if event.timestamp_ms > now_ms + MAX_EVENT_FUTURE_MS {
            queue.pop_front();
            batch.too_new += 1;
            continue;
        }
        let first = batch.events.first().map(|e| e.timestamp_ms);
        if batch.events.len() == MAX_BATCH_EVENTS
            || bytes + event.size() > MAX_BATCH_BYTES
            || first.is_some_and(|f| event.timestamp_ms - f > MAX_BATCH_SPAN_MS)
        {
            break;
        }
        bytes += event.size();
        if let Some(event) = queue.pop_front() {
            batch.events.push(event);
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn queue(events: impl IntoIterator<Item = (i64, usize)>) -> VecDeque<Event> {
        events
            .into_iter()
            .map(|(t, len)| Event::new(t, "x".repeat(len)).0)
            .collect()
    }

    fn assert_valid(batch: &Batch) {
        assert!(batch.events.len() <= MAX_BATCH_EVENTS);
        assert!(batch.bytes() <= MAX_BATCH_BYTES);
        assert!(batch
            .events
            .windows(2)
            .all(|w| w[0].timestamp_ms <= w[1].timestamp_ms));
        if let (Some(f), Some(l)) = (batch.events.first(), batch.events.last()) {
            assert!(l.timestamp_ms - f.timestamp_ms <= MAX_BATCH_SPAN_MS);
        }
        assert!(batch.events.iter().all(|e| e.size() <= MAX_EVENT_BYTES));
    }

    #[test]
    fn splits_on_the_event_count() {
        let mut q = queue((0..10_001).map(|i| (NOW + i, 10)));
        let first = take(&mut q, NOW);
        assert_eq!(first.events.len(), MAX_BATCH_EVENTS);
        assert_valid(&first);
        let second = take(&mut q, NOW);
        assert_eq!(second.events.len(), 1);
        assert!(q.is_empty());
    }

    #[test]
    fn splits_on_bytes_counting_the_overhead() {
        // 1000-byte messages: 1,026 bytes each, so 1,022 fit (1,048,572) and 1,023 do not.
        let mut q = queue((0..2000).map(|i| (NOW + i, 1000)));
        let first = take(&mut q, NOW);
        assert_eq!(first.events.len(), 1022);
        assert_valid(&first);
        assert_eq!(take(&mut q, NOW).events.len(), 978);
    }

    #[test]
    fn never_spans_more_than_a_day() {
        let day = MAX_BATCH_SPAN_MS;
        let mut q = queue([
            (NOW - 2 * day, 5),
            (NOW - day, 5),
            (NOW - day + 1, 5),
            (NOW, 5),
        ]);
        let first = take(&mut q, NOW);
        assert_eq!(
            first.events.len(),
            2,
            "first event plus everything within 24 h of it"
        );
        assert_valid(&first);
        assert_eq!(take(&mut q, NOW).events.len(), 2);
    }

    #[test]
    fn drops_what_the_service_would_reject_and_counts_it() {
        let mut q = queue([
            (NOW - MAX_EVENT_AGE_MS - 1, 5),
            (NOW, 5),
            (NOW + MAX_EVENT_FUTURE_MS + 1, 5),
        ]);
        let batch = take(&mut q, NOW);
        assert_eq!(batch.events.len(), 1);
        assert_eq!((batch.too_old, batch.too_new), (1, 1));
    }

    #[test]
    fn oversized_messages_are_truncated_on_a_character_boundary() {
        let (event, truncated) = Event::new(NOW, "é".repeat(200_000));
        assert!(truncated);
        assert!(event.size() <= MAX_EVENT_BYTES);
        assert!(event.message.ends_with(TRUNCATION_MARK));
        let (small, truncated) = Event::new(NOW, "ok".into());
        assert!(!truncated);
        assert_eq!(small.message, "ok");
    }
}
