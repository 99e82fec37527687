//! Wall-clock instants, written as RFC 3339 in UTC (`2026-11-23T04:17:59.123Z`).
//!
//! Records only need "now", millisecond precision and a round trip through
//! JSON, which two small functions of civil-date arithmetic give without a
//! date crate.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    pub fn now() -> Timestamp {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(since.as_millis() as u64)
    }

    /// The instant `millis` milliseconds after the Unix epoch.
    pub(crate) fn from_millis(millis: u64) -> Timestamp {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub(crate) fn millis(self) -> u64 {
        self.0
    }

    /// The instant `duration` after this one.
    pub(crate) fn after(self, duration: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(duration.as_millis() as u64))
    }

    /// The time from `earlier` to `self`, zero if the clock went backwards.
    pub(crate) fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// The instant a file time stands for (the epoch for one before it).
    pub(crate) fn from_system(time: SystemTime) -> Timestamp {
        Timestamp(
            time.duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as u64,
        )
    }

    /// The date and time of day in UTC: year, month, day, hour, minute, second.
    pub(crate) fn civil(self) -> (i64, u64, u64, u64, u64, u64) {
        let secs = self.0 / 1000;
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        let time = secs % 86_400;
        (year, month, day, time / 3600, time / 60 % 60, time % 60)
    }

    /// Parses the form [`Display`](fmt::Display) writes; fractions of any length
    /// are accepted, a date that does not exist (2026-02-31) is not.
    pub(crate) fn parse(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        // Digits only: `parse` would take a sign (`+1`).
        let num = |range: std::ops::Range<usize>| {
            let digits = text.get(range)?;
            digits.bytes().all(|d| d.is_ascii_digit()).then_some(())?;
            digits.parse::<u64>().ok()
        };
        let (year, month, day) = (num(0..4)? as i64, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let rest = text[19..].strip_suffix('Z')?;
        let millis = match rest.strip_prefix('.') {
            Some(digits) if !digits.is_empty() && digits.bytes().all(|d| d.is_ascii_digit()) => {
                format!("{digits:0<3}")[..3].parse::<u64>().ok()?
            }
            Some(_) => return None,
            None if rest.is_empty() => 0,
            None => return None,
        };
        let days = days_from_civil(year, month, day);
        // A day past its month's end (2026-02-31) would roll over into the next.
        if civil_from_days(days) != (year, month, day) {
            return None;
        }
        let secs = u64::try_from(days).ok()? * 86_400 + hour * 3600 + minute * 60 + second;
        Some(Timestamp(secs * 1000 + millis))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, millis) = (self.0 / 1000, self.0 % 1000);
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        let time = secs % 86_400;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            time / 3600,
            time / 60 % 60,
            time % 60
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("'{text}' is not an RFC 3339 UTC time"))
        })
    }
}

// Howard Hinnant's days-from-civil algorithms (public domain), proleptic Gregorian.
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_are_written_in_rfc3339() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        // `date -u -d @1795407479.123 +%FT%T.%3NZ`
        assert_eq!(
            Timestamp(1_795_407_479_123).to_string(),
            "2026-11-23T04:17:59.123Z"
        );
        assert_eq!(
            Timestamp(951_782_400_000).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in [
            "2026-02-31T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-+2-01T00:00:00Z",
            "2026-02-+1T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
        for leap in ["2000-02-29T00:00:00Z", "2024-02-29T12:00:00Z"] {
            assert!(Timestamp::parse(leap).is_some(), "{leap}");
        }
        assert_eq!(
            Timestamp::parse("2026-12-31T23:59:59Z")
                .unwrap()
                .to_string(),
            "2026-12-31T23:59:59.000Z"
        );
    }

    #[test]
    fn what_is_written_parses_back() {
        for millis in [0, 951_782_400_000, 1_795_407_479_123, 4_102_444_799_999] {
            let t = Timestamp(millis);
            assert_eq!(Timestamp::parse(&t.to_string()), Some(t));
        }
        assert_eq!(
            Timestamp::parse("2026-11-23T04:17:59Z"),
            Some(Timestamp(1_795_407_479_000))
        );
        assert_eq!(
            Timestamp::parse("2026-11-23T04:17:59.1Z"),
            Some(Timestamp(1_795_407_479_100))
        );
        for bad in [
            "",
            "2026-11-23",
            "2026-13-01T00:00:00Z",
            "2026-11-23T04:17:59.Z",
            "2026-11-23T04:17:59+01:00",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }
}
