//! The PutLogEvents request body, written by itemsd rather than by the SDK's serialiser.
//!
//! Why: every access-log line is shipped, so the body is most of what shipping costs. The
//! SDK's serialiser escapes each message byte by byte into a fresh string, grows the body by
//! doubling into fresh memory, and runs again for every attempt from the input it is given
//! (which the caller must clone for each attempt). Here the body is written once a batch, with
//! the escaper the log lines are written with (a word at a time), into a buffer kept from batch
//! to batch, and every attempt sends the same bytes. The SDK still builds the rest of the
//! request (endpoint, headers, SigV4 over this body): the body goes in through the operation's
//! `mutate_request` hook, which runs before signing.

use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use bytes::{Bytes, BytesMut};

use super::batch::Event;
use super::Destination;
use crate::telemetry::json::push_json_str;

// The body's fixed pieces, in the order `BodyWriter::write` puts them; the size estimate below
// is counted from the same pieces, so the two cannot drift apart.
const GROUP_KEY: &[u8] = br#"{"logGroupName":"#;
const STREAM_KEY: &[u8] = br#","logStreamName":"#;
const EVENTS_KEY: &[u8] = br#","logEvents":["#;
const EVENTS_END: &[u8] = b"]}";
const EVENT_SEPARATOR: &[u8] = b",";
const TIMESTAMP_KEY: &[u8] = br#"{"timestamp":"#;
const MESSAGE_KEY: &[u8] = br#","message":"#;
const EVENT_END: &[u8] = b"}";
/// A JSON string's two quotes.
const QUOTES: usize = 2;
/// Digits of a timestamp in milliseconds from 2001 to 2286.
const TIMESTAMP_DIGITS: usize = 13;
/// Room for a few escapes in each message (each access-log line quotes its keys and strings,
/// so its escaped form is longer than the line). A guess that is too small costs one more
/// growth of the buffer, nothing else.
const MESSAGE_ESCAPES_BYTES: usize = 64;
/// Room for each event's JSON beyond its message.
const EVENT_JSON_BYTES: usize = EVENT_SEPARATOR.len()
    + TIMESTAMP_KEY.len()
    + TIMESTAMP_DIGITS
    + MESSAGE_KEY.len()
    + QUOTES
    + EVENT_END.len()
    + MESSAGE_ESCAPES_BYTES;
/// The body's JSON around the events and the two names.
const ENVELOPE_JSON_BYTES: usize =
    GROUP_KEY.len() + QUOTES + STREAM_KEY.len() + QUOTES + EVENTS_KEY.len() + EVENTS_END.len();

/// Bytes to reserve for the body of `events` to `destination`: exact for messages and names
/// without escapes, but for [`MESSAGE_ESCAPES_BYTES`] an event and the first event's separator.
fn estimate(destination: &Destination, events: &[Event]) -> usize {
    events
        .iter()
        .map(|e| e.message.len() + EVENT_JSON_BYTES)
        .sum::<usize>()
        + destination.group.len()
        + destination.stream.len()
        + ENVELOPE_JSON_BYTES
}

/// Builds PutLogEvents bodies into one buffer, reused from batch to batch.
#[derive(Default)]
pub struct BodyWriter {
    /// The last body's allocation: once every attempt that sent it is over, its handles are
    /// gone and the next body reuses it, instead of growing a new one from nothing (its pages
    /// are already mapped, so the kernel need not zero fresh ones every batch).
    buffer: BytesMut,
}

impl BodyWriter {
    /// The awsJson1.1 body for `events` to `destination` (the member names are the API's).
    pub fn write(&mut self, destination: &Destination, events: &[Event]) -> Bytes {
        let out = &mut self.buffer;
        out.clear();
        out.reserve(estimate(destination, events));
        out.extend_from_slice(GROUP_KEY);
        push_json_str(out, &destination.group);
        out.extend_from_slice(STREAM_KEY);
        push_json_str(out, &destination.stream);
        out.extend_from_slice(EVENTS_KEY);
        let mut digits = itoa::Buffer::new();
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(EVENT_SEPARATOR);
            }
            out.extend_from_slice(TIMESTAMP_KEY);
            out.extend_from_slice(digits.format(event.timestamp_ms).as_bytes());
            out.extend_from_slice(MESSAGE_KEY);
            push_json_str(out, &event.message);
            out.extend_from_slice(EVENT_END);
        }
        out.extend_from_slice(EVENTS_END);
        out.split().freeze()
    }
}

/// Puts `body` in place of the one the SDK serialised (from an input without events), with
/// its length: for `mutate_request`, before the request is signed.
pub fn replace_body(request: &mut HttpRequest, body: &Bytes) {
    request
        .headers_mut()
        .insert("content-length", body.len().to_string());
    *request.body_mut() = SdkBody::from(body.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn destination() -> Destination {
        Destination {
            group: "/itemsd/app".into(),
            stream: "i-0123456789abcdef0".into(),
        }
    }

    fn event(timestamp_ms: i64, message: &str) -> Event {
        Event {
            timestamp_ms,
            message: message.into(),
        }
    }

    #[test]
    fn the_body_is_the_apis_json_with_every_message_intact() {
        // What JSON must escape (quotes, backslashes, control characters), what it must not
        // (non-ASCII), and an access-log line as itemsd writes it.
        let messages = [
            r#"{"level":"INFO","msg":"request","path":"/api/items?limit=10"}"#,
            "back\\slash \"quoted\" tab\t newline\n nul\u{0} bell\u{7} del\u{7f}",
            "caf\u{e9} \u{1f980} \u{2028}",
            "",
        ];
        let events: Vec<Event> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| event(1_800_000_000_000 + i as i64, m))
            .collect();
        let body = BodyWriter::default().write(&destination(), &events);
        let parsed: Value = serde_json::from_slice(&body).expect("the body is JSON");
        let expected = json!({
            "logGroupName": "/itemsd/app",
            "logStreamName": "i-0123456789abcdef0",
            "logEvents": messages.iter().enumerate().map(|(i, m)| json!({
                "timestamp": 1_800_000_000_000_i64 + i as i64,
                "message": m,
            })).collect::<Vec<_>>(),
        });
        assert_eq!(parsed, expected);
    }

    proptest::proptest! {
        #[test]
        fn any_messages_come_back_from_the_body_as_they_went_in(
            messages in proptest::collection::vec(proptest::prelude::any::<String>(), 0..8),
        ) {
            let events: Vec<Event> = messages.iter().map(|m| event(7, m)).collect();
            let body = BodyWriter::default().write(&destination(), &events);
            let parsed: Value = serde_json::from_slice(&body).expect("the body is JSON");
            let back: Vec<&str> = parsed["logEvents"]
                .as_array()
                .expect("logEvents")
                .iter()
                .map(|e| e["message"].as_str().expect("message"))
                .collect();
            proptest::prop_assert_eq!(back, messages);
        }
    }

    /// The estimate counts the pieces the writer writes: for messages without escapes it is the
    /// body's length but for the room left for escapes and the first event's separator.
    #[test]
    fn the_estimate_is_the_plain_bodys_length_and_the_room_for_escapes() {
        for count in [0, 1, 3] {
            let events: Vec<Event> = (0..count)
                .map(|i| event(1_800_000_000_000 + i, "GET /health 200"))
                .collect();
            let body = BodyWriter::default().write(&destination(), &events);
            let room = events.len() * MESSAGE_ESCAPES_BYTES
                + usize::from(!events.is_empty()) * EVENT_SEPARATOR.len();
            assert_eq!(
                estimate(&destination(), &events),
                body.len() + room,
                "{count} events"
            );
        }
    }

    #[test]
    fn a_body_is_unchanged_by_the_next_one_written_into_the_same_writer() {
        let mut writer = BodyWriter::default();
        let first = writer.write(&destination(), &[event(1, "first batch")]);
        let copy = first.to_vec();
        let second = writer.write(&destination(), &[event(2, "second"), event(3, "batch")]);
        assert_eq!(first.to_vec(), copy);
        let parsed: Value = serde_json::from_slice(&second).expect("JSON");
        assert_eq!(parsed["logEvents"][1]["message"], "batch");
    }

    #[test]
    fn the_replaced_body_carries_its_own_length() {
        let mut request = HttpRequest::new(SdkBody::from("{}"));
        request.headers_mut().insert("content-length", "2");
        let body = Bytes::from_static(br#"{"logEvents":[]}"#);
        replace_body(&mut request, &body);
        assert_eq!(request.headers().get("content-length"), Some("16"));
        assert_eq!(request.body().bytes(), Some(&body[..]));
    }
}
