//! clamd's `VERSION` reply: engine version, signature database version and date.

use std::time::Duration;

use rampart_model::Timestamp;

use crate::ClamdError;

/// What `VERSION` says, e.g. `ClamAV 1.0.7/27471/Wed Nov 26 09:24:51 2026`.
///
/// A clamd that loaded no official database (`daily.cvd`/`.cld`/`.cud`), only local signature
/// files, answers with the engine version alone: then the signature version and date are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClamdVersion {
    /// The engine, `1.0.7`.
    pub engine: String,
    /// The `daily` database version, `27471`.
    pub signature_version: Option<u32>,
    /// When the `daily` database was built. clamd prints it in its own local time zone without
    /// saying which; it is read as UTC, the usual zone of a server (elsewhere the age is off by
    /// the zone's offset, which does not matter for a staleness check measured in days).
    pub database_date: Option<Timestamp>,
}

impl ClamdVersion {
    /// Parses a `VERSION` reply (without its terminator).
    pub fn parse(reply: &str) -> Result<ClamdVersion, ClamdError> {
        let unexpected = || ClamdError::UnexpectedReply(reply.to_string());
        let rest = reply
            .trim()
            .strip_prefix("ClamAV ")
            .ok_or_else(unexpected)?;
        let mut parts = rest.splitn(3, '/');
        let engine = parts.next().unwrap_or_default().trim();
        if engine.is_empty() || engine.contains(char::is_whitespace) {
            return Err(unexpected());
        }
        let signature_version = match parts.next() {
            Some(v) => Some(v.trim().parse().map_err(|_| unexpected())?),
            None => None,
        };
        let database_date = match parts.next() {
            Some(date) => Some(parse_ctime(date).ok_or_else(unexpected)?),
            None => None,
        };
        Ok(ClamdVersion {
            engine: engine.to_string(),
            signature_version,
            database_date,
        })
    }

    /// How old the signature database is at `now`; `None` if clamd did not say. A date in the
    /// future (clock skew) counts as age zero.
    pub fn database_age(&self, now: Timestamp) -> Option<Duration> {
        let built = self.database_date?;
        let secs = now.0.saturating_sub(built.0).max(0);
        Some(Duration::from_secs(secs.unsigned_abs()))
    }
}

/// Reads C's `ctime` format, `Wed Nov 26 09:24:51 2026` (day of month space-padded), as UTC.
fn parse_ctime(s: &str) -> Option<Timestamp> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut tokens = s.split_whitespace();
    let (_weekday, month, day, clock, year) = (
        tokens.next()?,
        tokens.next()?,
        tokens.next()?,
        tokens.next()?,
        tokens.next()?,
    );
    if tokens.next().is_some() {
        return None;
    }
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let mut hms = clock.split(':').map(|t| t.parse::<i64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some()
        || !(1..=31).contains(&day)
        || !(1970..=9999).contains(&year)
        || !(0..24).contains(&h)
        || !(0..60).contains(&m)
        || !(0..=60).contains(&sec)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(Timestamp(days * Timestamp::DAY + h * 3600 + m * 60 + sec))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_engine_signature_version_and_database_date() {
        let v = ClamdVersion::parse("ClamAV 1.0.7/27471/Wed Nov 26 09:24:51 2025").unwrap();
        assert_eq!(v.engine, "1.0.7");
        assert_eq!(v.signature_version, Some(27471));
        // date -u -d '2025-11-26 09:24:51' +%s
        assert_eq!(v.database_date, Some(Timestamp(1_764_149_091)));
    }

    #[test]
    fn parses_a_space_padded_day_of_month() {
        let v = ClamdVersion::parse("ClamAV 1.4.6/27999/Thu Jan  1 00:00:00 1970").unwrap();
        assert_eq!(v.database_date, Some(Timestamp(0)));
        let v = ClamdVersion::parse("ClamAV 1.4.6/1/Thu Feb 29 12:00:00 2024").unwrap();
        assert_eq!(v.database_date, Some(Timestamp(1_709_208_000)));
    }

    #[test]
    fn engine_only_reply_has_no_database_and_no_age() {
        let v = ClamdVersion::parse("ClamAV 1.4.6").unwrap();
        assert_eq!(v.engine, "1.4.6");
        assert_eq!(v.signature_version, None);
        assert_eq!(v.database_age(Timestamp(1_800_000_000)), None);
    }

    #[test]
    fn database_age_is_now_minus_the_database_date() {
        let v = ClamdVersion::parse("ClamAV 1.0.7/27471/Wed Nov 26 09:24:51 2025").unwrap();
        let now = Timestamp(1_764_149_091 + 3 * Timestamp::DAY + 60);
        assert_eq!(
            v.database_age(now),
            Some(Duration::from_secs(3 * 86_400 + 60))
        );
    }

    #[test]
    fn database_dated_in_the_future_is_age_zero() {
        let v = ClamdVersion::parse("ClamAV 1.0.7/27471/Wed Nov 26 09:24:51 2025").unwrap();
        assert_eq!(v.database_age(Timestamp(0)), Some(Duration::ZERO));
    }

    #[test]
    fn rejects_replies_that_are_not_a_clamav_version() {
        for reply in [
            "",
            "PONG",
            "ClamAV ",
            "ClamAV 1.0/x/Wed Nov 26 09:24:51 2025",
            "ClamAV 1.0/1/yesterday",
            "ClamAV 1.0/1/Wed Foo 26 09:24:51 2025",
            "ClamAV 1.0/1/Wed Nov 26 25:24:51 2025",
            "ClamAV 1.0/1/Wed Nov 26 09:24:51 2025 extra",
        ] {
            assert!(ClamdVersion::parse(reply).is_err(), "{reply:?}");
        }
    }
}
