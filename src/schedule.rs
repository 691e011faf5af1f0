//! When `orgsync run` syncs: a fixed interval (`--interval 6h`) or a crontab expression
//! (`--cron "0 */6 * * *"`, evaluated in UTC with the `cron` crate). Pure: computes the next
//! due time and the longest gap between runs (for `/healthz`'s default max age); the waiting
//! and the signals are the scheduler's (`cli::run_cmd`).
//!
//! Crontab syntax is the classic five fields (minute hour day-of-month month day-of-week, with
//! `*`, lists, ranges, steps and names; 0 or 7 = Sunday) or `@hourly`, `@daily`, `@weekly`,
//! `@monthly`, `@yearly`. The `cron` crate wants a leading seconds field and numbers
//! weekdays 1–7 from Sunday, so five-field expressions are translated before parsing.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A schedule that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "'{expr}' is not a crontab expression: {why}. Use five fields (minute hour day-of-month month day-of-week, e.g. \"0 */6 * * *\") or @hourly/@daily/@weekly/@monthly/@yearly"
    )]
    Cron { expr: String, why: String },
    #[error("the interval must be at least one second")]
    ZeroInterval,
}

/// How far ahead of the next match [`Schedule::longest_gap`] looks at a cron schedule.
pub const GAP_WINDOW_DAYS: i64 = 35;
/// At most this many matches are compared (a five-field expression matches at most once a
/// minute: 50,400 times in 35 days).
const GAP_MAX_MATCHES: usize = 60_000;

/// When runs happen.
#[derive(Debug, Clone)]
pub enum Schedule {
    Interval(Duration),
    Cron {
        expr: String,
        schedule: Box<cron::Schedule>,
    },
}

impl Schedule {
    pub fn interval(d: Duration) -> Result<Schedule, ScheduleError> {
        if d < Duration::from_secs(1) {
            return Err(ScheduleError::ZeroInterval);
        }
        Ok(Schedule::Interval(d))
    }

    /// Parses a five-field crontab expression or an `@` shorthand.
    pub fn cron(expr: &str) -> Result<Schedule, ScheduleError> {
        let err = |why: String| ScheduleError::Cron {
            expr: expr.to_string(),
            why,
        };
        let trimmed = expr.trim();
        let translated = if trimmed.starts_with('@') {
            trimmed.to_ascii_lowercase()
        } else {
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            if fields.len() != 5 {
                return Err(err(format!("it has {} fields, not 5", fields.len())));
            }
            let dow = translate_weekdays(fields[4]).map_err(err)?;
            format!(
                "0 {} {} {} {} {dow}",
                fields[0], fields[1], fields[2], fields[3]
            )
        };
        let schedule = cron::Schedule::from_str(&translated).map_err(|e| err(e.to_string()))?;
        if schedule.upcoming(Utc).next().is_none() {
            return Err(err("it never fires".into()));
        }
        Ok(Schedule::Cron {
            expr: trimmed.to_string(),
            schedule: Box::new(schedule),
        })
    }

    /// The next run after a run that started at `last_start` (None: the first run), seen at
    /// `now`. Interval schedules run at once the first time and then every interval after
    /// the previous start (at once if a run overran); cron schedules run at the next match
    /// after `now` (missed matches are skipped).
    pub fn next(&self, last_start: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Schedule::Interval(d) => match last_start {
                None => now,
                Some(s) => {
                    let due = s + chrono::Duration::from_std(*d).unwrap_or(chrono::Duration::MAX);
                    due.max(now)
                }
            },
            Schedule::Cron { schedule, .. } => schedule
                .after(&now)
                .next()
                .unwrap_or(now + chrono::Duration::days(365 * 100)),
        }
    }

    /// The longest time between two runs (`/healthz`'s default max age is twice this). For
    /// an interval, the interval. For cron, the longest gap between consecutive matches,
    /// looking at every match that starts within [`GAP_WINDOW_DAYS`] after the next one (and
    /// the gap that follows it): weekends and month ends count, so `0 9 * * MON-FRI` gives
    /// 72 h, not the 24 h between two weekdays.
    pub fn longest_gap(&self, now: DateTime<Utc>) -> Duration {
        const FALLBACK: Duration = Duration::from_secs(3600);
        match self {
            Schedule::Interval(d) => *d,
            Schedule::Cron { schedule, .. } => {
                let mut it = schedule.after(&now).take(GAP_MAX_MATCHES);
                let Some(first) = it.next() else {
                    return FALLBACK;
                };
                let end = first + chrono::Duration::days(GAP_WINDOW_DAYS);
                let mut prev = first;
                let mut longest = None;
                for t in it {
                    longest = longest.max((t - prev).to_std().ok());
                    if t > end {
                        break;
                    }
                    prev = t;
                }
                longest.unwrap_or(FALLBACK)
            }
        }
    }

    /// Human description for logs.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Interval(d) => format!("every {}", humantime::format_duration(*d)),
            Schedule::Cron { expr, .. } => format!("cron \"{expr}\" (UTC)"),
        }
    }
}

/// Crontab weekday numbers (0–7, 0 and 7 = Sunday) → the cron crate's (1–7, 1 = Sunday).
fn translate_weekdays(field: &str) -> Result<String, String> {
    let num = |s: &str| -> Result<Option<u32>, String> {
        if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
            match s.parse::<u32>() {
                Ok(n) if n <= 7 => Ok(Some(n)),
                _ => Err(format!("day of week '{s}' is not 0-7")),
            }
        } else {
            Ok(None)
        }
    };
    // 0..=6 → 1..=7, 7 (Sunday again) → 1.
    let map = |n: u32| if n == 7 { 1 } else { n + 1 };
    let mut out = vec![];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let step_text = step.map(|s| format!("/{s}")).unwrap_or_default();
        if range == "*" || range == "?" {
            out.push(format!("{range}{step_text}"));
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => match (num(a)?, num(b)?) {
                (Some(a), Some(7)) if step.is_none() && a > 0 => {
                    // e.g. 5-7 (Friday to Sunday) → 6-7,1
                    out.push(format!("{}-7,1", map(a)));
                }
                (Some(0), Some(7)) => out.push(format!("1-7{step_text}")),
                (Some(_), Some(7)) => {
                    return Err("a weekday range ending at 7 cannot have a step".into());
                }
                (Some(a), Some(b)) => out.push(format!("{}-{}{step_text}", map(a), map(b))),
                (Some(a), None) => out.push(format!("{}-{b}{step_text}", map(a))),
                (None, Some(b)) => out.push(format!("{a}-{}{step_text}", map(b))),
                (None, None) => out.push(item.to_string()),
            },
            None => match num(range)? {
                Some(n) => out.push(format!("{}{step_text}", map(n))),
                None => out.push(item.to_string()),
            },
        }
    }
    Ok(out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
    }

    #[test]
    fn five_field_cron() {
        let s = Schedule::cron("0 */6 * * *").unwrap();
        assert_eq!(
            s.next(None, at(2026, 11, 23, 0, 30)),
            at(2026, 11, 23, 6, 0)
        );
        assert_eq!(
            s.longest_gap(at(2026, 11, 23, 0, 30)),
            Duration::from_secs(6 * 3600)
        );
        // 2026-11-23 is a Monday. Weekday 1 = Monday in crontab.
        let mon = Schedule::cron("30 2 * * 1").unwrap();
        assert_eq!(
            mon.next(None, at(2026, 11, 23, 3, 0)),
            at(2026, 11, 30, 2, 30)
        );
        let sun0 = Schedule::cron("0 0 * * 0").unwrap();
        let sun7 = Schedule::cron("0 0 * * 7").unwrap();
        assert_eq!(
            sun0.next(None, at(2026, 11, 23, 0, 0)),
            at(2026, 11, 29, 0, 0)
        );
        assert_eq!(
            sun7.next(None, at(2026, 11, 23, 0, 0)),
            at(2026, 11, 29, 0, 0)
        );
        let fri_sun = Schedule::cron("0 0 * * 5-7").unwrap();
        assert_eq!(
            fri_sun.next(None, at(2026, 11, 23, 0, 0)),
            at(2026, 11, 27, 0, 0)
        );
        let weekdays = Schedule::cron("0 9 * * MON-FRI").unwrap();
        assert_eq!(
            weekdays.next(None, at(2026, 11, 28, 0, 0)),
            at(2026, 11, 30, 9, 0)
        );
        assert!(Schedule::cron("@daily").is_ok());
    }

    #[test]
    fn longest_gap_sees_weekends_and_month_ends() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let weekdays = Schedule::cron("0 9 * * MON-FRI").unwrap();
        // From a Monday, a Wednesday and a Saturday: the gap over the weekend rules, not the
        // day between the next two runs.
        for now in [
            at(2026, 11, 23, 10, 0),
            at(2026, 11, 25, 10, 0),
            at(2026, 11, 28, 10, 0),
        ] {
            assert_eq!(weekdays.longest_gap(now), hours(72), "{now}");
        }
        assert_eq!(
            Schedule::cron("* * * * *")
                .unwrap()
                .longest_gap(at(2026, 11, 23, 0, 0)),
            Duration::from_secs(60)
        );
        // Every minute of the first hour of each day: the gap is the rest of the day.
        assert_eq!(
            Schedule::cron("* 0 * * *")
                .unwrap()
                .longest_gap(at(2026, 11, 23, 0, 30)),
            hours(23) + Duration::from_secs(60)
        );
        // Matches further apart than the window: the gap after the next match still counts.
        assert_eq!(
            Schedule::cron("@yearly")
                .unwrap()
                .longest_gap(at(2026, 11, 23, 0, 0)),
            hours(365 * 24)
        );
        // The 31st: from January, the two-month gap to March 31 is inside the window.
        assert_eq!(
            Schedule::cron("0 0 31 * *")
                .unwrap()
                .longest_gap(at(2027, 1, 1, 0, 0)),
            hours(59 * 24)
        );
        assert_eq!(
            Schedule::interval(hours(6))
                .unwrap()
                .longest_gap(at(2026, 11, 23, 0, 0)),
            hours(6)
        );
    }

    #[test]
    fn bad_cron_is_explained() {
        let e = Schedule::cron("0 */6 * *").unwrap_err().to_string();
        assert!(e.contains("4 fields"), "{e}");
        assert!(Schedule::cron("0 25 * * *").is_err());
        assert!(Schedule::cron("0 0 * * 8").is_err());
        assert!(Schedule::cron("not a cron").is_err());
    }

    #[test]
    fn interval_runs_at_once_then_after_each_start() {
        let s = Schedule::interval(Duration::from_secs(3600)).unwrap();
        let now = at(2026, 1, 1, 0, 0);
        assert_eq!(s.next(None, now), now);
        assert_eq!(
            s.next(Some(now), at(2026, 1, 1, 0, 10)),
            at(2026, 1, 1, 1, 0)
        );
        assert_eq!(
            s.next(Some(now), at(2026, 1, 1, 2, 0)),
            at(2026, 1, 1, 2, 0),
            "an overrun starts the next run at once"
        );
        assert!(Schedule::interval(Duration::ZERO).is_err());
    }
}
