//! ISO 8601 timestamps written digit by digit. chrono's `format` parses its pattern on every
//! call, and even `write!` with a fixed pattern went through `core::fmt` for each of the seven
//! fields: with a log line and a timestamp in the body of every request, that was 4.5 % of
//! itemsd's CPU serving `/health` (perf record; docs/PERFORMANCE.md).

use std::fmt::Write;

use chrono::{Datelike, NaiveDateTime, Timelike};

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
    let year = t.year();
    if !(0..=9999).contains(&year) {
        // Outside four digits chrono adds a sign; rare enough for the general path.
        let _ = write!(
            out,
            "{}",
            t.format(match fraction {
                Fraction::Millis => "%Y-%m-%dT%H:%M:%S%.3f",
                Fraction::Micros => "%Y-%m-%dT%H:%M:%S%.6f",
            })
        );
    } else {
        // Every field fits its digits: the year is checked above, the rest by chrono's ranges.
        let mut buf = *b"0000-00-00T00:00:00.000000";
        put_digits(&mut buf[0..4], year.unsigned_abs());
        put_digits(&mut buf[5..7], t.month());
        put_digits(&mut buf[8..10], t.day());
        put_digits(&mut buf[11..13], t.hour());
        put_digits(&mut buf[14..16], t.minute());
        put_digits(&mut buf[17..19], t.second());
        let len = match fraction {
            Fraction::Millis => {
                put_digits(&mut buf[20..23], nanos / 1_000_000);
                23
            }
            Fraction::Micros => {
                put_digits(&mut buf[20..26], nanos / 1_000);
                26
            }
        };
        // ASCII digits and separators only.
        out.push_str(std::str::from_utf8(&buf[..len]).unwrap_or_default());
    }
    if zulu {
        out.push('Z');
    }
}

/// Writes `n` into `digits` right-aligned in decimal, zero-padded; `n` must fit.
fn put_digits(digits: &mut [u8], mut n: u32) {
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
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
    }
}
