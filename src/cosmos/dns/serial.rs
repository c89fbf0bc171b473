//! The SOA serial rule and the date it takes: unchanged records keep their serial, changed ones
//! get `max(old + 1, YYYYMMDD00)`, the date from `SOURCE_DATE_EPOCH` when set.

#[derive(Debug, thiserror::Error)]
pub(crate) enum DateError {
    #[error("SOURCE_DATE_EPOCH={0:?} is not a non-negative whole number of seconds")]
    SourceDateEpoch(String),
    #[error(
        "{origin} is {secs} seconds after 1970-01-01, past 4294-12-31: a YYYYMMDDnn serial holds dates up to then; use a Unix time from 0 to {MAX_EPOCH}"
    )]
    DateOutOfRange { origin: String, secs: u64 },
}

pub(crate) fn next_serial(old: Option<u32>, unchanged: bool, today: u32) -> Option<u32> {
    // An unchanged zone keeps its serial whatever the date, so the floor is only computed for
    // changed records: a bad date must never block (or be blamed for) a no-op render.
    match old {
        Some(old) if unchanged => Some(old),
        Some(old) => Some(old.checked_add(1)?.max(today.checked_mul(100)?)),
        None => today.checked_mul(100),
    }
}

/// The last second (4294-12-31 23:59:59 UTC) whose `YYYYMMDD99` still fits the 32-bit serial.
pub(crate) const MAX_EPOCH: u64 = 73_369_929_599;

/// Today as `YYYYMMDD` (UTC), from `SOURCE_DATE_EPOCH` when set so builds are reproducible.
pub(crate) fn today() -> Result<u32, DateError> {
    let (origin, secs) = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => {
            let secs = v
                .trim()
                .parse::<u64>()
                .map_err(|_| DateError::SourceDateEpoch(v.clone()))?;
            (format!("SOURCE_DATE_EPOCH={v:?}"), secs)
        }
        Err(_) => (
            "the system clock".to_owned(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        ),
    };
    date_of(&origin, secs)
}

/// `YYYYMMDD` of `secs`, refused past [`MAX_EPOCH`] rather than producing a date whose serial
/// floor overflows and surfaces later as a misleading "serial cannot move forward".
fn date_of(origin: &str, secs: u64) -> Result<u32, DateError> {
    if secs > MAX_EPOCH {
        return Err(DateError::DateOutOfRange {
            origin: origin.to_owned(),
            secs,
        });
    }
    Ok(civil_date(secs / 86_400))
}

/// Days since 1970-01-01 → `YYYYMMDD`.
fn civil_date(days: u64) -> u32 {
    let (year, month, day) = crate::cosmos::date::civil_from_days(days);
    u32::try_from(year * 10_000 + month * 100 + day).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_keeps_bumps_and_never_goes_back() {
        assert_eq!(next_serial(None, false, 20261121), Some(2026112100));
        assert_eq!(
            next_serial(Some(2026112100), true, 20261122),
            Some(2026112100)
        );
        assert_eq!(
            next_serial(Some(2026112100), false, 20261121),
            Some(2026112101)
        );
        assert_eq!(
            next_serial(Some(2026112105), false, 20261122),
            Some(2026112200)
        );
        assert_eq!(
            next_serial(Some(2030010100), false, 20261122),
            Some(2030010101)
        );
        assert_eq!(next_serial(Some(u32::MAX), false, 20261122), None);
    }

    #[test]
    fn unchanged_zone_keeps_its_serial_whatever_the_date() {
        assert_eq!(
            next_serial(Some(2025112100), true, u32::MAX),
            Some(2025112100)
        );
        assert_eq!(next_serial(Some(2025112100), false, u32::MAX), None);
    }

    #[test]
    fn dates_are_bounded_by_what_a_serial_holds() {
        assert_eq!(date_of("x", 0).unwrap(), 19700101);
        let last = date_of("x", MAX_EPOCH).unwrap();
        assert_eq!(last, 42941231);
        assert!(u64::from(last) * 100 + 99 <= u64::from(u32::MAX));
        // One second later is the next day, whose serial floor would no longer fit.
        assert_eq!(civil_date((MAX_EPOCH + 1) / 86_400), 42950101);
        let e = date_of("SOURCE_DATE_EPOCH=\"99999999999999\"", 99_999_999_999_999)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SOURCE_DATE_EPOCH=\"99999999999999\"")
                && e.contains("from 0 to 73369929599"),
            "{e}"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), 19700101);
        assert_eq!(civil_date(20_413), 20251121);
        assert_eq!(civil_date(11_016), 20000229);
    }
}
