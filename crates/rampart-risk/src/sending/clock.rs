//! Local time for sending control: the minute and the UTC-grid hour of an instant, its calendar
//! day and hour-of-week slot in the configured time zone.

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::SendingError;

pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 86_400_000;
/// Hours in a week: one baseline slot each.
pub(crate) const SLOTS: usize = 168;
/// Instants are clamped into `0..=MAX_TIME_MS` (1970 to about the year 8300), so that no
/// arithmetic on them can overflow and every one is a valid `jiff` timestamp.
pub(crate) const MAX_TIME_MS: i64 = 200_000_000_000_000;

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// One instant as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Moment {
    pub ms: i64,
    /// Minutes since the epoch (the sliding hour's bucket).
    pub minute: i64,
    /// Hours since the epoch: baseline hours lie on the UTC grid, so they never repeat or skip.
    pub hour: i64,
    /// Local calendar day (days since 1970-01-01 in the configured zone).
    pub day: i32,
    /// Hour-of-week slot of `hour` (0 = Monday 00:00 local).
    pub slot: u16,
}

/// A stretch of time with one UTC offset, so most instants need no time-zone lookup.
#[derive(Debug, Clone, Copy)]
struct OffsetSpan {
    from_ms: i64,
    until_ms: i64,
    offset_s: i32,
}

/// The configured time zone plus a cache of the current offset.
#[derive(Debug, Clone)]
pub(crate) struct LocalClock {
    tz: TimeZone,
    span: OffsetSpan,
}

impl LocalClock {
    pub(crate) fn new(name: &str) -> Result<LocalClock, SendingError> {
        let tz = TimeZone::get(name).map_err(|_| SendingError::Timezone(name.to_string()))?;
        Ok(LocalClock {
            tz,
            span: OffsetSpan {
                from_ms: 0,
                until_ms: 0,
                offset_s: 0,
            },
        })
    }

    /// Caches the offset in force at `ms` until the zone's next transition.
    pub(crate) fn refresh(&mut self, ms: i64) {
        if (self.span.from_ms..self.span.until_ms).contains(&ms) {
            return;
        }
        let Ok(ts) = Timestamp::from_millisecond(ms) else {
            return;
        };
        let until_ms = self
            .tz
            .following(ts)
            .next()
            .map_or(i64::MAX, |t| t.timestamp().as_millisecond());
        self.span = OffsetSpan {
            from_ms: ms,
            until_ms,
            offset_s: self.tz.to_offset(ts).seconds(),
        };
    }

    /// UTC offset in seconds at `ms` (cached when `ms` lies in the span last refreshed).
    fn offset_s(&self, ms: i64) -> i64 {
        if (self.span.from_ms..self.span.until_ms).contains(&ms) {
            return i64::from(self.span.offset_s);
        }
        Timestamp::from_millisecond(ms).map_or(0, |ts| i64::from(self.tz.to_offset(ts).seconds()))
    }

    /// The engine's view of an instant (`ms` already clamped by [`clamp_ms`]).
    pub(crate) fn moment(&self, ms: i64) -> Moment {
        let local_s = ms.div_euclid(1000) + self.offset_s(ms);
        let hour = ms.div_euclid(HOUR_MS);
        Moment {
            ms,
            minute: ms.div_euclid(MINUTE_MS),
            hour,
            day: local_s.div_euclid(DAY_MS / 1000) as i32,
            slot: self.slot_of_hour(hour),
        }
    }

    /// The local hour-of-week of a UTC-grid hour's midpoint: in a half-hour zone, the local
    /// hour holding most of it; on a DST change a repeated local hour maps two UTC hours to one
    /// slot and a skipped one maps none.
    pub(crate) fn slot_of_hour(&self, hour: i64) -> u16 {
        let mid = hour.saturating_mul(HOUR_MS).saturating_add(HOUR_MS / 2);
        let local_s = mid.div_euclid(1000) + self.offset_s(mid);
        let day = local_s.div_euclid(86_400);
        // 1970-01-01 was a Thursday (index 3 with Monday = 0).
        let weekday = (day + 3).rem_euclid(7);
        let hour_of_day = local_s.rem_euclid(86_400) / 3600;
        (weekday * 24 + hour_of_day) as u16
    }

    /// `HH:MM` and the zone's abbreviation ("14:05 UTC", "22:05 CST") for people.
    pub(crate) fn local_hhmm(&self, ms: i64) -> String {
        let Ok(ts) = Timestamp::from_millisecond(ms) else {
            return String::new();
        };
        let info = self.tz.to_offset_info(ts);
        let local_s = ms.div_euclid(1000) + i64::from(info.offset().seconds());
        let minute_of_day = local_s.rem_euclid(86_400) / 60;
        format!(
            "{:02}:{:02} {}",
            minute_of_day / 60,
            minute_of_day % 60,
            info.abbreviation()
        )
    }
}

/// Keeps an injected instant in the range the engine computes with.
pub(crate) fn clamp_ms(ms: i64) -> i64 {
    ms.clamp(0, MAX_TIME_MS)
}

/// "Tuesday 10:00" for a slot.
pub(crate) fn slot_label(slot: u16) -> String {
    let slot = usize::from(slot) % SLOTS;
    format!("{} {:02}:00", WEEKDAYS[slot / 24], slot % 24)
}
