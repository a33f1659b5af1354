//! Maintenance windows: absolute spans of time, and weekly ones in UTC (which may run past
//! midnight), with the values they are written with in a configuration file.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::ExceptionError;

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

/// When an exception applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// From `start` (included) to `end` (excluded), epoch milliseconds.
    Between { start: i64, end: i64 },
    /// Every week, on the days it opens, from `from` (included) to `to` (excluded), UTC;
    /// when `to` is not after `from` the window runs past midnight into the next day.
    Weekly {
        days: Days,
        from: TimeOfDay,
        to: TimeOfDay,
    },
}

impl Window {
    /// An absolute window; `end` must be after `start`.
    pub fn between(start: Timestamp, end: Timestamp) -> Result<Window, ExceptionError> {
        if end.0 <= start.0 {
            return Err(ExceptionError::EmptyWindow);
        }
        Ok(Window::Between {
            start: start.0,
            end: end.0,
        })
    }

    /// A weekly window opening on `days` (every day when empty); `from` and `to` must differ.
    pub fn weekly(
        days: &[Weekday],
        from: TimeOfDay,
        to: TimeOfDay,
    ) -> Result<Window, ExceptionError> {
        if from == to || from.0 >= 24 * 60 {
            return Err(ExceptionError::WeeklyWindow);
        }
        let days = if days.is_empty() {
            Days::EVERY
        } else {
            Days(days.iter().fold(0, |mask, d| mask | d.bit()))
        };
        Ok(Window::Weekly { days, from, to })
    }

    /// Whether the window holds the instant `ts` (epoch milliseconds).
    pub fn contains(&self, ts: i64) -> bool {
        match *self {
            Window::Between { start, end } => start <= ts && ts < end,
            Window::Weekly { days, from, to } => {
                let day = ts.div_euclid(DAY);
                let minute = (ts.rem_euclid(DAY) / MINUTE) as u32;
                if from < to {
                    days.has(day) && from.0 <= minute && minute < to.0
                } else {
                    // Past midnight: the evening of an opening day, or the morning after one.
                    (days.has(day) && minute >= from.0) || (days.has(day - 1) && minute < to.0)
                }
            }
        }
    }
}

/// Days of the week, as a bit mask (Monday is bit 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(u8);

impl Days {
    pub const EVERY: Days = Days(0x7f);

    /// Whether the day `day` (days since the Unix epoch, a Thursday) is one of them.
    fn has(self, day: i64) -> bool {
        let weekday = (day + 3).rem_euclid(7); // 1970-01-01 was a Thursday (Monday = 0).
        self.0 & (1 << weekday) != 0
    }
}

/// A day of the week: `mon`..`sun` or the full English name, any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    const ALL: [(Weekday, &'static str); 7] = [
        (Weekday::Mon, "monday"),
        (Weekday::Tue, "tuesday"),
        (Weekday::Wed, "wednesday"),
        (Weekday::Thu, "thursday"),
        (Weekday::Fri, "friday"),
        (Weekday::Sat, "saturday"),
        (Weekday::Sun, "sunday"),
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl FromStr for Weekday {
    type Err = ExceptionError;

    fn from_str(text: &str) -> Result<Weekday, ExceptionError> {
        let t = text.trim().to_ascii_lowercase();
        Weekday::ALL
            .iter()
            .find(|(_, name)| t == *name || (t.len() == 3 && name.starts_with(t.as_str())))
            .map(|(d, _)| *d)
            .ok_or_else(|| ExceptionError::Weekday(text.to_string()))
    }
}

/// A time of day in UTC, `HH:MM` (`24:00` for the end of a day), as minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(pub u32);

impl FromStr for TimeOfDay {
    type Err = ExceptionError;

    fn from_str(text: &str) -> Result<TimeOfDay, ExceptionError> {
        let bad = || ExceptionError::TimeOfDay(text.to_string());
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        let two_digits = |s: &str| {
            (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
        };
        match (two_digits(h), two_digits(m)) {
            (Some(h), Some(m)) if h < 24 && m < 60 => Ok(TimeOfDay(h * 60 + m)),
            (Some(24), Some(0)) => Ok(TimeOfDay(24 * 60)),
            _ => Err(bad()),
        }
    }
}

/// An instant written as an RFC 3339 timestamp (`2025-03-01T22:00:00Z`; a bare date is
/// midnight UTC), as epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl FromStr for Timestamp {
    type Err = ExceptionError;

    fn from_str(text: &str) -> Result<Timestamp, ExceptionError> {
        modelward_event::parse_timestamp(text)
            .map(Timestamp)
            .ok_or_else(|| ExceptionError::Timestamp(text.to_string()))
    }
}

/// Deserializes a value written as a string through its `FromStr`, saying what was
/// expected otherwise.
pub(super) fn from_text<'de, D, T>(d: D, expected: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    struct Text<T>(&'static str, std::marker::PhantomData<T>);
    impl<T: FromStr> Visitor<'_> for Text<T>
    where
        T::Err: fmt::Display,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }
    }
    d.deserialize_str(Text(expected, std::marker::PhantomData))
}

impl<'de> Deserialize<'de> for Weekday {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        from_text(d, "a day of the week as a string, e.g. \"sat\"")
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TimeOfDay, D::Error> {
        from_text(d, "a time of day as a string, \"HH:MM\" (UTC)")
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        struct Instant;
        impl<'de> Visitor<'de> for Instant {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp, e.g. \"2025-03-01T22:00:00Z\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                v.parse().map_err(E::custom)
            }
            /// A TOML date-time written without quotes arrives as a map of one entry
            /// holding its text.
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Timestamp, A::Error> {
                match map.next_entry::<de::IgnoredAny, String>()? {
                    Some((_, text)) => text.parse().map_err(de::Error::custom),
                    None => Err(de::Error::invalid_length(0, &self)),
                }
            }
        }
        d.deserialize_any(Instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        modelward_event::parse_timestamp(text).unwrap()
    }

    fn t(text: &str) -> TimeOfDay {
        text.parse().unwrap()
    }

    #[test]
    fn absolute_windows_include_the_start_and_exclude_the_end() {
        let w = Window::between(
            "2025-03-01T22:00:00Z".parse().unwrap(),
            "2025-03-02T02:00:00Z".parse().unwrap(),
        )
        .unwrap();
        assert!(!w.contains(at("2025-03-01T21:59:59.999Z")));
        assert!(w.contains(at("2025-03-01T22:00:00Z")));
        assert!(w.contains(at("2025-03-02T01:59:59Z")));
        assert!(!w.contains(at("2025-03-02T02:00:00Z")));
        let same = Timestamp(at("2025-03-01T00:00:00Z"));
        assert_eq!(
            Window::between(same, same),
            Err(ExceptionError::EmptyWindow)
        );
    }

    #[test]
    fn weekly_windows_run_past_midnight_from_their_opening_day() {
        // Saturday and Sunday nights, 22:00 to 02:00 UTC. 2025-03-01 is a Saturday.
        let w = Window::weekly(&[Weekday::Sat, Weekday::Sun], t("22:00"), t("02:00")).unwrap();
        assert!(!w.contains(at("2025-03-01T21:59:00Z"))); // Sat, before it opens
        assert!(w.contains(at("2025-03-01T22:00:00Z"))); // Sat evening
        assert!(w.contains(at("2025-03-02T01:30:00Z"))); // Sun morning, Saturday's window
        assert!(!w.contains(at("2025-03-02T02:00:00Z"))); // closed
        assert!(!w.contains(at("2025-03-02T12:00:00Z"))); // Sun noon
        assert!(w.contains(at("2025-03-02T23:00:00Z"))); // Sun evening
        assert!(w.contains(at("2025-03-03T01:00:00Z"))); // Mon morning, Sunday's window
        assert!(!w.contains(at("2025-03-03T23:00:00Z"))); // Mon evening: not a day of it
        assert!(!w.contains(at("2025-02-28T01:00:00Z"))); // Fri morning: Thursday is not
        assert!(w.contains(at("2025-03-08T23:59:59Z"))); // the next Saturday
                                                         // Before the epoch too.
        assert!(w.contains(at("1969-12-27T23:00:00Z"))); // a Saturday
    }

    #[test]
    fn weekly_windows_within_a_day_and_every_day() {
        let w = Window::weekly(&[], t("09:00"), t("17:30")).unwrap();
        assert!(w.contains(at("2025-03-05T09:00:00Z")));
        assert!(w.contains(at("2025-03-01T17:29:00Z")));
        assert!(!w.contains(at("2025-03-01T17:30:00Z")));
        assert!(!w.contains(at("2025-03-01T08:59:59Z")));
        let whole_monday = Window::weekly(&[Weekday::Mon], t("00:00"), t("24:00")).unwrap();
        assert!(whole_monday.contains(at("2025-03-03T00:00:00Z")));
        assert!(whole_monday.contains(at("2025-03-03T23:59:59Z")));
        assert!(!whole_monday.contains(at("2025-03-04T00:00:00Z")));
        assert_eq!(
            Window::weekly(&[], t("10:00"), t("10:00")),
            Err(ExceptionError::WeeklyWindow)
        );
        assert_eq!(
            Window::weekly(&[], t("24:00"), t("01:00")),
            Err(ExceptionError::WeeklyWindow)
        );
    }

    #[test]
    fn values_parse_and_say_what_is_wrong() {
        assert_eq!("Sat".parse::<Weekday>().unwrap(), Weekday::Sat);
        assert_eq!("sunday".parse::<Weekday>().unwrap(), Weekday::Sun);
        assert!("sa".parse::<Weekday>().is_err());
        assert!("weekend".parse::<Weekday>().is_err());
        assert_eq!(t("07:05"), TimeOfDay(425));
        for bad in ["7:05", "24:01", "12:60", "noon", "12-00"] {
            let e = bad.parse::<TimeOfDay>().unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("HH:MM"), "{e}");
        }
        assert!("2025-13-01T00:00:00Z".parse::<Timestamp>().is_err());
        assert_eq!(
            "2025-03-01".parse::<Timestamp>().unwrap(),
            Timestamp(at("2025-03-01T00:00:00Z"))
        );
    }
}
