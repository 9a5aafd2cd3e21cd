//! ISO 8601 timestamps written field by field. chrono's `format` parses its pattern on every
//! call; with a log line and two timestamps per item on every list request, that parsing was
//! about 6 % of itemsd's CPU under load (perf; docs/PERFORMANCE.md).

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
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let _ = match fraction {
        Fraction::Millis => write!(out, ".{:03}", nanos / 1_000_000),
        Fraction::Micros => write!(out, ".{:06}", nanos / 1_000),
    };
    if zulu {
        out.push('Z');
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
