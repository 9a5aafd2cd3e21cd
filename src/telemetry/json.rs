//! JSON string literals, written straight into the text they belong to: a log line (`String`)
//! and the PutLogEvents body (`BytesMut`, where each message is a whole log line).
//!
//! The two see different text, so each has the writer that suits it. A log line's values
//! (paths, ids, messages) nearly never hold a byte to escape: the `String` writer scans a word
//! at a time and copies each run whole. A shipped log line is itself JSON, a quote every few
//! bytes: the `BytesMut` writer stores whole words shifted into place around each byte to
//! escape, through a buffer on the stack, instead of a copy call a run. Both escape with
//! [`short_escape`], and a test holds them to the same output.

use bytes::BytesMut;

/// Text that JSON string literals are appended to.
pub trait JsonText {
    /// Appends `s` as a JSON string literal (RFC 8259 §7).
    fn append_json_str(&mut self, s: &str);
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str<T: JsonText + ?Sized>(out: &mut T, s: &str) {
    out.append_json_str(s);
}

/// Appends `s`, a text that needs no escaping by how it was made, as a JSON string literal,
/// without scanning it: for the fixed words of the health answers, where the scan was most of
/// the cost of each (callgrind), and for ids and tokens in log lines.
pub fn push_plain_json_str(out: &mut String, s: &str) {
    debug_assert!(!s.bytes().any(needs_escape), "not plain: {s:?}");
    out.reserve(s.len() + 2);
    out.push('"');
    out.push_str(s);
    out.push('"');
}

/// Whether JSON needs `b` escaped inside a string (RFC 8259 §7): quote, backslash, controls.
pub const fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The letter after the backslash when `b` has a two-character escape; `None` for the other
/// controls, written `\u00` and two hex digits.
const fn short_escape(b: u8) -> Option<u8> {
    match b {
        b'"' => Some(b'"'),
        b'\\' => Some(b'\\'),
        b'\n' => Some(b'n'),
        b'\r' => Some(b'r'),
        b'\t' => Some(b't'),
        _ => None,
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
/// The longest escape: `\u00XX`.
const ESCAPE_MAX: usize = 6;

/// The high bit of each byte of `x` that needs escaping, and of no other: each sum adds less
/// than 0x80 to a byte's low seven bits, so none carries into a neighbour, and every mark can
/// be used, not only the lowest. UTF-8 bytes (0x80 and up) are never marked.
const fn escape_marks(x: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const LOWS: u64 = u64::from_ne_bytes([0x7f; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // High bit set where the byte is 0x20 or more (its low seven bits plus 0x60 reach 0x80,
    // or it had the high bit already).
    let at_least_space = ((x & LOWS) + ONES * 0x60) | x;
    // High bit set where the byte differs from `b` (some low bit set, or the high bit).
    const fn differs(x: u64, b: u8) -> u64 {
        let y = x ^ (ONES * b as u64);
        ((y & LOWS) + LOWS) | y
    }
    !(at_least_space & differs(x, b'"') & differs(x, b'\\')) & HIGHS
}

/// How many leading bytes need no escaping: eight at a time, then byte by byte for the last
/// few. The profile had a byte-by-byte loop at a sixth of the instructions of a `/health`
/// request.
fn unescaped_prefix(bytes: &[u8]) -> usize {
    let mut done = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        // Little-endian, so that the first byte is the lowest.
        let marks = escape_marks(u64::from_le_bytes(word));
        if marks != 0 {
            return done + (marks.trailing_zeros() / 8) as usize;
        }
        done += 8;
    }
    done + bytes[done..]
        .iter()
        .position(|&b| needs_escape(b))
        .unwrap_or(bytes.len() - done)
}

impl JsonText for String {
    fn append_json_str(&mut self, s: &str) {
        self.reserve(s.len() + 2);
        self.push('"');
        let mut rest = s;
        loop {
            // Nearly every value has nothing to escape: one scan, one copy.
            let run = unescaped_prefix(rest.as_bytes());
            self.push_str(&rest[..run]);
            let Some(&b) = rest.as_bytes().get(run) else {
                break;
            };
            self.push('\\');
            match short_escape(b) {
                Some(letter) => self.push(char::from(letter)),
                None => {
                    self.push_str("u00");
                    self.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
                    self.push(char::from(HEX_DIGITS[usize::from(b & 0xf)]));
                }
            }
            // Every byte escaped is ASCII, so `run + 1` is on a character boundary.
            rest = &rest[run + 1..];
        }
        self.push('"');
    }
}

/// The stack buffer the `BytesMut` writer fills before each copy into the body.
const STAGE_BYTES: usize = 512;
/// The most one word of input writes past the stage's length at the word's start: eight
/// escapes of [`ESCAPE_MAX`], and the whole-word store after them.
const WORD_OUT_MAX: usize = 8 * ESCAPE_MAX + 8;

impl JsonText for BytesMut {
    fn append_json_str(&mut self, s: &str) {
        self.reserve(s.len() + 2);
        let mut stage = [0u8; STAGE_BYTES];
        stage[0] = b'"';
        let mut n = 1;
        let mut words = s.as_bytes().chunks_exact(8);
        for chunk in &mut words {
            if n > STAGE_BYTES - WORD_OUT_MAX {
                self.extend_from_slice(&stage[..n]);
                n = 0;
            }
            let mut bytes = [0; 8];
            bytes.copy_from_slice(chunk);
            n = stage_word(&mut stage, n, bytes, 8);
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            if n > STAGE_BYTES - WORD_OUT_MAX {
                self.extend_from_slice(&stage[..n]);
                n = 0;
            }
            // Padded with spaces, which need no escape. (Here only: a copy of a length the
            // compiler cannot see is a call to `memcpy`, which in the loop cost more than the
            // rest of the word's work.)
            let mut bytes = [b' '; 8];
            bytes[..rest.len()].copy_from_slice(rest);
            n = stage_word(&mut stage, n, bytes, rest.len());
        }
        // A word leaves at least eight bytes of room, so the closing quote fits.
        stage[n] = b'"';
        self.extend_from_slice(&stage[..=n]);
    }
}

/// Writes the first `len` of `bytes`, escaped, into `stage` at `n` (with at least
/// [`WORD_OUT_MAX`] bytes of room), and returns the new length. The escapes are spelled here
/// byte by byte rather than through one shared table of six-byte sequences: that version,
/// with the two flushes folded into a closure, measured 3,345 instructions a shipped line
/// against 2,427 (`SHIPPING=on bench/count-instructions.sh`).
// Inlined into both calls: as a call it cost ten instructions a word, a seventh of its work.
#[inline(always)]
fn stage_word(stage: &mut [u8; STAGE_BYTES], mut n: usize, bytes: [u8; 8], len: usize) -> usize {
    let word = u64::from_le_bytes(bytes);
    let mut marks = escape_marks(word);
    // The word's first byte not yet written.
    let mut from = 0;
    while marks != 0 {
        let at = (marks.trailing_zeros() / 8) as usize;
        marks &= marks - 1;
        // Bytes `from..at` land in place; what the store puts past them is overwritten by
        // the escape and the next store.
        stage[n..n + 8].copy_from_slice(&(word >> (8 * from)).to_le_bytes());
        n += at - from;
        let b = bytes[at];
        stage[n] = b'\\';
        match short_escape(b) {
            Some(letter) => {
                stage[n + 1] = letter;
                n += 2;
            }
            None => {
                stage[n + 1..n + ESCAPE_MAX].copy_from_slice(&[
                    b'u',
                    b'0',
                    b'0',
                    HEX_DIGITS[usize::from(b >> 4)],
                    HEX_DIGITS[usize::from(b & 0xf)],
                ]);
                n += ESCAPE_MAX;
            }
        }
        from = at + 1;
    }
    if from < len {
        stage[n..n + 8].copy_from_slice(&(word >> (8 * from)).to_le_bytes());
        n += len - from;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_string_is_one_valid_json_string(s in proptest::prelude::any::<String>()) {
            let mut out = String::new();
            push_json_str(&mut out, &s);
            let back: String = serde_json::from_str(&out).expect("valid JSON string");
            proptest::prop_assert_eq!(back, s);
        }

        #[test]
        fn a_byte_buffer_gets_what_a_string_gets(s in proptest::prelude::any::<String>()) {
            let mut text = String::new();
            push_json_str(&mut text, &s);
            let mut bytes = BytesMut::new();
            push_json_str(&mut bytes, &s);
            proptest::prop_assert_eq!(&bytes[..], text.as_bytes());
        }
    }

    /// Every byte value is marked exactly when it needs escaping, wherever it falls in a word
    /// and whatever its neighbours (a control or a quote beside it included).
    #[test]
    fn the_marks_are_exact_for_every_byte_in_every_place() {
        for b in 0..=u8::MAX {
            for neighbour in [0x00, 0x1f, 0x20, b'"', b'\\', 0x7f, 0x80, 0xff] {
                for at in 0..8 {
                    let mut bytes = [neighbour; 8];
                    bytes[at] = b;
                    let marks = escape_marks(u64::from_le_bytes(bytes));
                    for (i, &byte) in bytes.iter().enumerate() {
                        assert_eq!(
                            marks & (0x80 << (8 * i)) != 0,
                            needs_escape(byte),
                            "{byte:#x} at {i} in {bytes:x?}"
                        );
                    }
                }
            }
        }
    }

    /// The word-at-a-time scan stops at exactly the first byte to escape, wherever it falls in
    /// a word, and at none of its neighbours (0x20, 0x21, 0x23, 0x5b, 0x5d, DEL, UTF-8).
    #[test]
    fn the_scan_finds_the_first_byte_to_escape_anywhere() {
        let plain = "ab !#[]\u{7f}é-0123456789abcdefghijklmnopqrstuvwxyz";
        assert_eq!(unescaped_prefix(plain.as_bytes()), plain.len());
        for special in [0x00u8, 0x01, 0x0a, 0x1f, b'"', b'\\'] {
            for len in 1..40 {
                for at in 0..len {
                    let mut bytes: Vec<u8> = plain
                        .bytes()
                        .filter(u8::is_ascii)
                        .cycle()
                        .take(len)
                        .collect();
                    bytes[at] = special;
                    assert_eq!(
                        unescaped_prefix(&bytes),
                        at,
                        "{special:#x} at {at} of {len}"
                    );
                }
            }
        }
    }

    /// A byte buffer gets what a string gets, at every length and offset of runs between
    /// escapes, after text already in the buffer, and across the stage's refills (messages of
    /// controls alone and of quotes alone, several stages long).
    #[test]
    fn a_byte_buffer_gets_the_same_json_as_a_string() {
        let base = "ab\"cd\u{e9}\\e\u{1}fghijklmnopqrstuvwxyz\"\"0123456789ABCDEFGHIJ\tK";
        let chars: Vec<char> = base.chars().collect();
        let long = [
            "\u{1}".repeat(STAGE_BYTES * 6),
            "\"".repeat(STAGE_BYTES * 6 + 3),
            base.repeat(STAGE_BYTES / 4),
        ];
        let mut cases: Vec<String> = long.into_iter().collect();
        for len in 0..80 {
            for skip in 0..chars.len() {
                cases.push(chars.iter().cycle().skip(skip).take(len).collect());
            }
        }
        for s in cases {
            let mut text = String::from("{\"k\":");
            push_json_str(&mut text, &s);
            let mut bytes = BytesMut::from(&b"{\"k\":"[..]);
            push_json_str(&mut bytes, &s);
            assert_eq!(&bytes[..], text.as_bytes(), "{s:?}");
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut s = String::new();
        push_json_str(&mut s, "a\u{0}b\u{1f}c\u{7f}é");
        assert_eq!(s, "\"a\\u0000b\\u001fc\u{7f}é\"");
        let back: String = serde_json::from_str(&s).expect("valid JSON string");
        assert_eq!(back, "a\u{0}b\u{1f}c\u{7f}é");
    }
}
