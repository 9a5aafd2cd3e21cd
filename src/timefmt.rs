//! ISO 8601 timestamps written digit by digit. chrono's `format` parses its pattern on every
//! call, and even `write!` with a fixed pattern went through `core::fmt` for each of the seven
//! fields: with a log line and a timestamp in the body of every request, that was 4.5 % of
//! itemsd's CPU serving `/health` (perf record; docs/PERFORMANCE.md). The current time, written
//! twice a request (the access-log line, the bodies of `/` and `/health`), keeps the text of
//! its minute per thread, so only the seconds and their fraction are worked out each time.

use std::cell::Cell;
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};

/// Digits after the seconds.
#[derive(Clone, Copy, Debug)]
pub enum Fraction {
    Millis,
    Micros,
}

/// Appends `t` as `YYYY-MM-DDTHH:MM:SS.fff[fff]`, then `Z` when `zulu`; the same text as
/// chrono's `%Y-%m-%dT%H:%M:%S%.3f` / `%.6f`.
pub fn push_iso8601(out: &mut String, t: &NaiveDateTime, fraction: Fraction, zulu: bool) {
    // A leap second shows as nanoseconds past 1e9; chrono prints it as the 60th second's
    // fraction, and so does this.
    let nanos = t.nanosecond() % 1_000_000_000;
    match minute_text(t) {
        Some(minute) => push_past_minute(out, &minute, t.second(), nanos, fraction, zulu),
        None => {
            // Outside four digits chrono adds a sign; rare enough for the general path.
            let _ = write!(
                out,
                "{}",
                t.format(match fraction {
                    Fraction::Millis => "%Y-%m-%dT%H:%M:%S%.3f",
                    Fraction::Micros => "%Y-%m-%dT%H:%M:%S%.6f",
                })
            );
            if zulu {
                out.push('Z');
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:`, the part of a timestamp a minute shares.
type MinuteText = [u8; 17];

/// The text of the minute holding `t`, when its year has four digits.
fn minute_text(t: &NaiveDateTime) -> Option<MinuteText> {
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    // Every other field fits its digits by chrono's ranges.
    let mut text = *b"0000-00-00T00:00:";
    put_digits(&mut text[0..4], year);
    put_digits(&mut text[5..7], t.month());
    put_digits(&mut text[8..10], t.day());
    put_digits(&mut text[11..13], t.hour());
    put_digits(&mut text[14..16], t.minute());
    Some(text)
}

/// Appends `minute`, then `second` (below 60) and its fraction from `nanos` (below 1e9), then
/// `Z` when `zulu`. Always inlined: the list route writes twenty timestamps through
/// `push_iso8601`, and as a call of its own this was 0.8 % of that route's instructions.
#[inline(always)]
fn push_past_minute(
    out: &mut String,
    minute: &MinuteText,
    second: u32,
    nanos: u32,
    fraction: Fraction,
    zulu: bool,
) {
    let mut buf = *b"0000-00-00T00:00:00.000000Z";
    buf[..minute.len()].copy_from_slice(minute);
    put_digits(&mut buf[17..19], second);
    let end = match fraction {
        Fraction::Millis => {
            put_digits(&mut buf[20..23], nanos / 1_000_000);
            23
        }
        Fraction::Micros => {
            put_digits(&mut buf[20..26], nanos / 1_000);
            26
        }
    };
    let len = if zulu {
        buf[end] = b'Z';
        end + 1
    } else {
        end
    };
    // ASCII digits and separators only.
    out.push_str(std::str::from_utf8(&buf[..len]).unwrap_or_default());
}

/// `00` to `99`, two bytes each: a division by 100 and a lookup write two digits, where a
/// division by 10 for each digit was two thirds of a timestamp's instructions (callgrind, on
/// `GET /api/items`, which writes twenty).
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

/// Writes `n` into `digits` right-aligned in decimal, zero-padded; `n` must fit. Always
/// inlined: every caller gives a fixed width, and so the loop unrolls into a few stores.
#[inline(always)]
fn put_digits(digits: &mut [u8], mut n: u32) {
    let mut pairs = digits.rchunks_exact_mut(2);
    for pair in &mut pairs {
        let at = (n % 100) as usize * 2;
        pair.copy_from_slice(&DIGIT_PAIRS[at..at + 2]);
        n /= 100;
    }
    if let [single] = pairs.into_remainder() {
        *single = b'0' + (n % 10) as u8;
    }
}

thread_local! {
    /// The Unix minute this thread last wrote, and its text: converting seconds to a calendar
    /// date (chrono's `Utc::now`, then its year, month and day) was most of the cost of a
    /// timestamp, and the date changes once a minute at most. Per thread, so workers share
    /// nothing; `u64::MAX` is no minute yet.
    static MINUTE: Cell<(u64, MinuteText)> = const { Cell::new((u64::MAX, [0; 17])) };

    /// The Unix millisecond this thread last wrote to the millisecond, and its text: every
    /// log line starts with the time to the millisecond, and a worker under load writes tens
    /// of lines in each one. `u64::MAX` is none yet, as for `MINUTE`.
    static LAST_MILLI: Cell<(u64, String)> = const { Cell::new((u64::MAX, String::new())) };
}

/// Appends the current UTC time as [`push_iso8601`] writes it, with the `Z`: the same text as
/// `push_iso8601(out, &Utc::now().naive_utc(), fraction, true)`. Returns that time in Unix
/// milliseconds (0 for a clock set before 1970), so that a caller needing the time as a number
/// too (the log shipper's event timestamp) need not read the clock a second time.
pub fn push_now(out: &mut String, fraction: Fraction) -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => {
            match fraction {
                Fraction::Millis => push_unix_millis(out, since.as_secs(), since.subsec_nanos()),
                Fraction::Micros => push_unix(out, since.as_secs(), since.subsec_nanos(), fraction),
            }
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        }
        // A clock set before 1970: not worth a cache.
        Err(_) => {
            push_iso8601(out, &chrono::Utc::now().naive_utc(), fraction, true);
            0
        }
    }
}

/// Appends `secs`.`nanos` to the millisecond, as `push_unix` does, from the text this thread
/// last wrote when it was the same millisecond.
fn push_unix_millis(out: &mut String, secs: u64, nanos: u32) {
    let milli = secs
        .wrapping_mul(1000)
        .wrapping_add(u64::from(nanos / 1_000_000));
    let cached = LAST_MILLI.try_with(|last| {
        // Taken out and put back: a `Cell` has no borrow to check. What it holds meanwhile is
        // no millisecond, should the push below panic.
        let (at, mut text) = last.replace((u64::MAX, String::new()));
        if at != milli {
            text.clear();
            push_unix(&mut text, secs, nanos, Fraction::Millis);
        }
        out.push_str(&text);
        last.set((milli, text));
    });
    if cached.is_err() {
        // The thread is exiting and its cache is gone.
        push_unix(out, secs, nanos, Fraction::Millis);
    }
}

/// Appends the Unix time `secs`.`nanos` (nanos below 1e9) as `push_now` does.
fn push_unix(out: &mut String, secs: u64, nanos: u32, fraction: Fraction) {
    let (cached_minute, cached_text) = MINUTE.with(Cell::get);
    let minute = if cached_minute == secs / 60 {
        Some(cached_text)
    } else {
        new_minute(secs)
    };
    match minute {
        // A minute has 60 seconds in Unix time: leap seconds are not counted in it.
        Some(minute) => push_past_minute(out, &minute, (secs % 60) as u32, nanos, fraction, true),
        None => {
            // Past year 9999, or beyond chrono's range: the general path says what chrono says.
            let t = i64::try_from(secs)
                .ok()
                .and_then(|s| DateTime::from_timestamp(s, nanos))
                .map(|t| t.naive_utc())
                .unwrap_or_default();
            push_iso8601(out, &t, fraction, true);
        }
    }
}

/// Renders the minute holding `secs` and keeps it for this thread. Out of line: once a minute,
/// and the common path stays small enough to inline the thread-local read.
#[cold]
#[inline(never)]
fn new_minute(secs: u64) -> Option<MinuteText> {
    let t = DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)?.naive_utc();
    let text = minute_text(&t)?;
    MINUTE.with(|cached| cached.set((secs / 60, text)));
    Some(text)
}

/// [`push_iso8601`] into a new string.
pub fn iso8601(t: &NaiveDateTime, fraction: Fraction, zulu: bool) -> String {
    let mut out = String::with_capacity(28);
    push_iso8601(&mut out, t, fraction, zulu);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn same_text_as_chrono(secs in 0i64..253_402_300_799, nanos in 0u32..1_000_000_000) {
            let t = chrono::DateTime::from_timestamp(secs, nanos).expect("in range").naive_utc();
            prop_assert_eq!(iso8601(&t, Fraction::Micros, false), t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
            prop_assert_eq!(iso8601(&t, Fraction::Millis, true), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        }

        /// The cached minute is right for a second in it, and replaced for any other minute:
        /// each time is written twice, after a time in another minute and after one in its own.
        #[test]
        fn unix_times_have_chrono_text(
            times in proptest::collection::vec((0u64..253_402_300_799, 0u32..1_000_000_000), 1..8),
        ) {
            for (secs, nanos) in times {
                let expected = DateTime::from_timestamp(secs as i64, nanos).expect("in range").naive_utc();
                for _ in 0..2 {
                    for (fraction, pattern) in [
                        (Fraction::Millis, "%Y-%m-%dT%H:%M:%S%.3fZ"),
                        (Fraction::Micros, "%Y-%m-%dT%H:%M:%S%.6fZ"),
                    ] {
                        let mut out = String::new();
                        push_unix(&mut out, secs, nanos, fraction);
                        prop_assert_eq!(out, expected.format(pattern).to_string());
                    }
                    let mut out = String::new();
                    push_unix_millis(&mut out, secs, nanos);
                    prop_assert_eq!(out, expected.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
                }
            }
        }
    }

    #[test]
    fn digits_are_zero_padded_to_their_width() {
        for (n, width, text) in [
            (7, 1, "7"),
            (7, 3, "007"),
            (999, 3, "999"),
            (2026, 4, "2026"),
            (59, 2, "59"),
            (123_456, 6, "123456"),
            (5, 6, "000005"),
        ] {
            let mut digits = vec![b'x'; width];
            put_digits(&mut digits, n);
            assert_eq!(digits, text.as_bytes(), "{n} in {width}");
        }
    }

    #[test]
    fn the_minute_changes_at_its_last_second() {
        // 2026-12-31T23:59:59 and the second after it: a new minute, day, month and year.
        let last = 1_798_761_599;
        let mut out = String::new();
        push_unix(&mut out, last, 999_999_999, Fraction::Millis);
        push_unix(&mut out, last + 1, 0, Fraction::Micros);
        push_unix(&mut out, last, 0, Fraction::Millis);
        assert_eq!(
            out,
            "2026-12-31T23:59:59.999Z2027-01-01T00:00:00.000000Z2026-12-31T23:59:59.000Z"
        );
    }

    /// The kept millisecond serves the times inside it, and only those: the next millisecond,
    /// and the same millisecond of another second, get text of their own.
    #[test]
    fn the_kept_millisecond_is_replaced_when_the_time_leaves_it() {
        let second = 1_798_761_599;
        let mut out = String::new();
        for (secs, nanos) in [
            (second, 5_000_000),
            (second, 5_999_999),
            (second, 6_000_000),
            (second + 1, 6_000_000),
            (second, 6_000_001),
        ] {
            push_unix_millis(&mut out, secs, nanos);
            out.push(' ');
        }
        assert_eq!(
            out,
            "2026-12-31T23:59:59.005Z 2026-12-31T23:59:59.005Z 2026-12-31T23:59:59.006Z \
             2027-01-01T00:00:00.006Z 2026-12-31T23:59:59.006Z "
        );
    }

    #[test]
    fn years_past_four_digits_take_the_general_path() {
        let mut out = String::new();
        push_unix(&mut out, 253_402_300_800, 0, Fraction::Millis);
        assert_eq!(out, "+10000-01-01T00:00:00.000Z");
    }

    #[test]
    fn now_is_written_as_chrono_writes_it() {
        let before = chrono::Utc::now().naive_utc();
        let mut out = String::new();
        push_now(&mut out, Fraction::Micros);
        let after = chrono::Utc::now().naive_utc();
        let written =
            NaiveDateTime::parse_from_str(&out, "%Y-%m-%dT%H:%M:%S%.6fZ").expect("parses");
        // Truncated to microseconds, so compared at that precision.
        assert!(
            written <= after && written >= before - chrono::Duration::microseconds(1),
            "{out}"
        );
    }

    /// What `push_now` returns is the time it wrote, to the millisecond, for both fractions.
    #[test]
    fn now_returns_the_millisecond_it_wrote() {
        for (fraction, format) in [
            (Fraction::Millis, "%Y-%m-%dT%H:%M:%S%.3fZ"),
            (Fraction::Micros, "%Y-%m-%dT%H:%M:%S%.6fZ"),
        ] {
            let mut out = String::new();
            let unix_ms = push_now(&mut out, fraction);
            let written = NaiveDateTime::parse_from_str(&out, format).expect("parses");
            assert_eq!(unix_ms, written.and_utc().timestamp_millis(), "{out}");
        }
    }
}
