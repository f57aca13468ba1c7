//! Opening hours as written: [`MinuteRange`] (`09:00-18:00`, a half-open `[start, end)` range of
//! minutes of one local day) and [`WeeklyHours`] (per weekday a sorted list of non-overlapping
//! ranges; a day without ranges is closed).
//!
//! Guarantees: a range always ends after it starts and within its day (`24:00` is the end of the
//! day); the ranges of one day never overlap and are kept sorted, so [`WeeklyHours::contains`] is a
//! short scan of one day. Ranges that touch (`09:00-12:00`, `12:00-14:00`) are allowed and read as
//! one open period.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Weekday;

/// The minutes of a day: `24:00` is minute 1440, the end of the day.
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// What is wrong with a range or a day of ranges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("`{0}` is not a time range; write `HH:MM-HH:MM` within one day, such as `09:00-18:00` or `00:00-24:00`")]
    Syntax(String),
    #[error("`{0}` does not end after it starts; a range lies within one day (for a night write `22:00-24:00` on one day and `00:00-06:00` on the next)")]
    EndsBeforeStart(String),
    #[error("`{second}` overlaps `{first}` on {day}")]
    Overlap {
        day: &'static str,
        first: MinuteRange,
        second: MinuteRange,
    },
}

/// A half-open range `[start, end)` of minutes of one local day, `0 <= start < end <= 1440`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MinuteRange {
    start: u16,
    end: u16,
}

impl MinuteRange {
    /// A range from `start` to `end` minutes after local midnight.
    pub fn new(start: u16, end: u16) -> Result<MinuteRange, HoursError> {
        if end > MINUTES_PER_DAY || start >= end {
            return Err(HoursError::EndsBeforeStart(format!(
                "{}-{}",
                Hhmm(start),
                Hhmm(end)
            )));
        }
        Ok(MinuteRange { start, end })
    }

    /// `HH:MM-HH:MM` (spaces around the dash allowed); the end may be `24:00`.
    pub fn parse(text: &str) -> Result<MinuteRange, HoursError> {
        let syntax = || HoursError::Syntax(text.to_string());
        let (start, end) = text.split_once('-').ok_or_else(syntax)?;
        let start = minute_of(start.trim()).filter(|m| *m < MINUTES_PER_DAY);
        let end = minute_of(end.trim());
        let (Some(start), Some(end)) = (start, end) else {
            return Err(syntax());
        };
        if start >= end {
            return Err(HoursError::EndsBeforeStart(text.to_string()));
        }
        Ok(MinuteRange { start, end })
    }

    pub fn start(self) -> u16 {
        self.start
    }

    pub fn end(self) -> u16 {
        self.end
    }

    pub fn contains(self, minute_of_day: u16) -> bool {
        self.start <= minute_of_day && minute_of_day < self.end
    }
}

/// `HH:MM` with two digits each, hours 00–24, minutes 00–59, and `24:00` as the only time in hour 24.
fn minute_of(text: &str) -> Option<u16> {
    let b = text.as_bytes();
    if b.len() != 5
        || b[2] != b':'
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
    {
        return None;
    }
    let digit = |i: usize| u16::from(b[i] - b'0');
    let (hours, minutes) = (digit(0) * 10 + digit(1), digit(3) * 10 + digit(4));
    let minute = hours * 60 + minutes;
    (minutes < 60 && minute <= MINUTES_PER_DAY).then_some(minute)
}

impl FromStr for MinuteRange {
    type Err = HoursError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MinuteRange::parse(s)
    }
}

struct Hhmm(u16);

impl fmt::Display for Hhmm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl fmt::Display for MinuteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", Hhmm(self.start), Hhmm(self.end))
    }
}

/// The short lower-case name of a weekday, as configuration keys and rules spell it.
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    }
}

/// Opening hours per weekday. The default is closed every day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct WeeklyHours {
    // INVARIANT: index 0 is Monday; each day's ranges are sorted and do not overlap.
    days: [Vec<MinuteRange>; 7],
}

fn index(day: Weekday) -> usize {
    // `to_monday_zero_offset` is 0..=6.
    usize::from(day.to_monday_zero_offset().unsigned_abs())
}

impl WeeklyHours {
    /// Closed every day.
    pub fn new() -> WeeklyHours {
        WeeklyHours::default()
    }

    /// Open at every minute of every day.
    pub fn always() -> WeeklyHours {
        let all = vec![MinuteRange {
            start: 0,
            end: MINUTES_PER_DAY,
        }];
        WeeklyHours {
            days: std::array::from_fn(|_| all.clone()),
        }
    }

    /// Set one weekday's ranges (replacing what it had): sorted here, refused when two overlap.
    pub fn set(&mut self, day: Weekday, mut ranges: Vec<MinuteRange>) -> Result<(), HoursError> {
        ranges.sort();
        for pair in ranges.windows(2) {
            if pair[1].start < pair[0].end {
                return Err(HoursError::Overlap {
                    day: weekday_name(day),
                    first: pair[0],
                    second: pair[1],
                });
            }
        }
        if let Some(slot) = self.days.get_mut(index(day)) {
            *slot = ranges;
        }
        Ok(())
    }

    /// Parse several days at once, as `[(Weekday::Monday, &["09:00-18:00"])]`.
    pub fn parse(days: &[(Weekday, &[&str])]) -> Result<WeeklyHours, HoursError> {
        let mut hours = WeeklyHours::new();
        for (day, ranges) in days {
            let ranges = ranges
                .iter()
                .map(|r| MinuteRange::parse(r))
                .collect::<Result<Vec<_>, _>>()?;
            hours.set(*day, ranges)?;
        }
        Ok(hours)
    }

    /// The ranges of one weekday, sorted.
    pub fn day(&self, day: Weekday) -> &[MinuteRange] {
        self.days.get(index(day)).map_or(&[], Vec::as_slice)
    }

    /// Whether `minute_of_day` (0–1439) of a `day` falls in one of its ranges.
    pub fn contains(&self, day: Weekday, minute_of_day: u16) -> bool {
        self.day(day).iter().any(|r| r.contains(minute_of_day))
    }

    /// Whether no day has any range.
    pub fn is_never_open(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_print_back() {
        for text in ["09:00-18:00", "00:00-24:00", "23:59-24:00", "00:00-00:01"] {
            assert_eq!(MinuteRange::parse(text).unwrap().to_string(), text);
        }
        let r = MinuteRange::parse(" 09:30 - 12:15 ").unwrap();
        assert_eq!((r.start(), r.end()), (570, 735));
        assert!(r.contains(570) && r.contains(734) && !r.contains(735) && !r.contains(569));
    }

    #[test]
    fn bad_ranges_are_refused_with_the_reason() {
        for text in [
            "9:00-18:00",
            "09:00",
            "09:00-18:60",
            "24:00-24:00",
            "09h00-18h00",
            "09:00-24:01",
            "25:00-26:00",
            "",
            "-",
            "09:00-18:00-19:00",
            "+9:00-18:00",
            "０9:00-18:00",
        ] {
            assert_eq!(
                MinuteRange::parse(text),
                Err(HoursError::Syntax(text.to_string())),
                "{text}"
            );
        }
        for text in ["18:00-09:00", "09:00-09:00", "00:00-00:00"] {
            assert_eq!(
                MinuteRange::parse(text),
                Err(HoursError::EndsBeforeStart(text.to_string()))
            );
        }
        assert_eq!(
            HoursError::EndsBeforeStart("18:00-09:00".into()).to_string(),
            "`18:00-09:00` does not end after it starts; a range lies within one day (for a night write `22:00-24:00` on one day and `00:00-06:00` on the next)"
        );
        assert!(MinuteRange::new(10, 10).is_err());
        assert!(MinuteRange::new(0, 1441).is_err());
        assert_eq!(
            MinuteRange::new(0, 1440).unwrap().to_string(),
            "00:00-24:00"
        );
    }

    #[test]
    fn a_day_is_sorted_and_overlaps_are_refused_but_touching_ranges_are_not() {
        let mut h = WeeklyHours::new();
        let r = |s: &str| MinuteRange::parse(s).unwrap();
        h.set(
            Weekday::Monday,
            vec![r("14:00-18:00"), r("09:00-12:00"), r("12:00-14:00")],
        )
        .unwrap();
        assert_eq!(
            h.day(Weekday::Monday),
            [r("09:00-12:00"), r("12:00-14:00"), r("14:00-18:00")]
        );
        let e = h
            .set(Weekday::Tuesday, vec![r("10:00-12:00"), r("09:00-11:00")])
            .unwrap_err();
        assert_eq!(e.to_string(), "`10:00-12:00` overlaps `09:00-11:00` on tue");
        assert!(h.day(Weekday::Tuesday).is_empty());
        assert!(h
            .set(Weekday::Sunday, vec![r("09:00-10:00"), r("09:00-10:00")])
            .is_err());
    }

    #[test]
    fn contains_agrees_with_a_naive_reference_for_every_minute() {
        let h = WeeklyHours::parse(&[
            (Weekday::Monday, &["09:00-12:00", "13:00-18:00"]),
            (Weekday::Wednesday, &["00:00-24:00"]),
            (Weekday::Saturday, &["10:00-14:00"]),
        ])
        .unwrap();
        let open = |d: Weekday, m: u16| match d {
            Weekday::Monday => (540..720).contains(&m) || (780..1080).contains(&m),
            Weekday::Wednesday => true,
            Weekday::Saturday => (600..840).contains(&m),
            _ => false,
        };
        let mut day = Weekday::Monday;
        for _ in 0..7 {
            for m in 0..MINUTES_PER_DAY {
                assert_eq!(h.contains(day, m), open(day, m), "{day:?} {m}");
            }
            day = day.next();
        }
        assert!(!h.is_never_open() && WeeklyHours::new().is_never_open());
        assert!(WeeklyHours::always().contains(Weekday::Sunday, 1439));
    }
}
