//! Time windows: approved one-off grants and recurring schedules in IANA zones.
//!
//! Everything inside is UTC instants; zones appear only in [`Schedule`].
//!
//! **Daylight-saving rule.** A schedule rule "Mon-Fri 09:00-17:00 America/New_York"
//! covers exactly the instants at which a wall clock in that zone, on a listed day,
//! reads a time in `[from, to)`. Consequences, tested in `tests/it/window.rs`:
//! - *gap* (spring forward): wall times that never occur are not covered; a window
//!   01:30-02:30 on the US spring-forward day covers 01:30-02:00 EST only (30 min),
//!   a window 02:30-04:00 covers 03:00-04:00 EDT;
//! - *overlap* (fall back): wall times that occur twice are covered both times; a
//!   window 01:00-02:00 on the US fall-back day lasts two hours (EDT, then EST).
//!
//! The computation assumes, as holds for every tzdb zone, that a zone's UTC offset
//! does not change twice within six hours.

use chrono::Offset;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::ids::{GroupName, InputError};

/// `t + d`, saturating at the ends of chrono's range instead of panicking.
pub fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(if d < Duration::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// A half-open interval of instants `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Interval {
    /// `None` when `end <= start` (an empty or inverted interval).
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// Sorts and merges overlapping or touching intervals.
pub fn merge(mut v: Vec<Interval>) -> Vec<Interval> {
    v.sort();
    let mut out: Vec<Interval> = Vec::with_capacity(v.len());
    for iv in v {
        match out.last_mut() {
            Some(last) if iv.start <= last.end => last.end = last.end.max(iv.end),
            _ => out.push(iv),
        }
    }
    out
}

/// Intersection of two merged, sorted interval lists.
pub fn intersect(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        if let Some(iv) = Interval::new(x.start.max(y.start), x.end.min(y.end)) {
            out.push(iv);
        }
        if x.end < y.end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// An approved one-off window for one user and one entitlement group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub group: GroupName,
    pub window: Interval,
    /// Ticket reference, shown in the decision and the audit record.
    pub ticket: String,
}

/// Minutes since local midnight; `to` may be 1440 ("24:00").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleRule {
    days: [bool; 7],
    from: u32,
    to: u32,
}

pub const DAYS_RULE: &str = "must be day names (Mon..Sun) or ranges such as Mon-Fri, separated by commas";
pub const TIME_RULE: &str = "must be HH:MM between 00:00 and 24:00";

fn day_index(s: &str) -> Option<usize> {
    const FULL: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let s = s.trim().to_ascii_lowercase();
    if s.len() < 3 {
        return None;
    }
    FULL.iter().position(|f| f.starts_with(s.as_str()))
}

fn parse_minutes(field: &'static str, s: &str) -> Result<u32, InputError> {
    let err = || InputError::new(field, s, TIME_RULE);
    let (h, m) = s.split_once(':').ok_or_else(err)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(err());
    }
    let h: u32 = h.parse().map_err(|_| err())?;
    let m: u32 = m.parse().map_err(|_| err())?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(err());
    }
    Ok(h * 60 + m)
}

impl ScheduleRule {
    /// `days` like "Mon-Fri" or "Sat,Sun"; `from`/`to` as "HH:MM". When `to <= from`
    /// the window runs overnight into the next day; it belongs to the day it starts.
    pub fn parse(days: &str, from: &str, to: &str) -> Result<Self, InputError> {
        let mut set = [false; 7];
        for part in days.split(',') {
            let bad = || InputError::new("days", days, DAYS_RULE);
            let (a, b) = match part.split_once(['-', '–']) {
                Some((a, b)) => (day_index(a).ok_or_else(bad)?, day_index(b).ok_or_else(bad)?),
                None => {
                    let d = day_index(part).ok_or_else(bad)?;
                    (d, d)
                }
            };
            let mut d = a;
            loop {
                if let Some(slot) = set.get_mut(d) {
                    *slot = true;
                }
                if d == b {
                    break;
                }
                d = (d + 1) % 7;
            }
        }
        let from = parse_minutes("from", from)?;
        let to = parse_minutes("to", to)?;
        if from == 1440 {
            return Err(InputError::new("from", "24:00", "must be before 24:00"));
        }
        if from == to {
            return Err(InputError::new("to", "", "must differ from `from` (a zero-length window)"));
        }
        Ok(Self { days: set, from, to })
    }

    fn applies_on(&self, wd: Weekday) -> bool {
        self.days.get(wd.num_days_from_monday() as usize).copied().unwrap_or(false)
    }
}

/// A recurring schedule: one or more rules in one IANA zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub name: String,
    pub zone: Tz,
    pub rules: Vec<ScheduleRule>,
}

pub const ZONE_RULE: &str = "must be an IANA time zone name such as America/New_York or UTC";

pub fn parse_zone(field: &'static str, s: &str) -> Result<Tz, InputError> {
    s.parse::<Tz>().map_err(|_| InputError::new(field, s, ZONE_RULE))
}

fn offset_at(zone: Tz, t: DateTime<Utc>) -> i64 {
    i64::from(zone.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc())
}

/// Splits `[lo, hi)` into pieces of constant UTC offset: `(start, end, offset_seconds)`.
/// Transitions are found to the second by bisection between six-hourly samples.
fn offset_pieces(zone: Tz, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>, i64)> {
    let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or(lo);
    let (lo_s, hi_s) = (lo.timestamp(), hi.timestamp());
    let step = 6 * 3600;
    let mut pieces = Vec::new();
    let mut start = lo_s;
    let mut off = offset_at(zone, lo);
    let mut a = lo_s;
    while a < hi_s {
        let b = (a + step).min(hi_s);
        if offset_at(zone, at(b)) == off {
            a = b;
            continue;
        }
        // The first second in (a, b] whose offset differs from `off`.
        let (mut l, mut r) = (a, b);
        while r - l > 1 {
            let mid = l + (r - l) / 2;
            if offset_at(zone, at(mid)) == off {
                l = mid;
            } else {
                r = mid;
            }
        }
        pieces.push((at(start), at(r), off));
        start = r;
        off = offset_at(zone, at(r));
        a = r;
    }
    pieces.push((at(start), hi, off));
    pieces
}

impl Schedule {
    /// The covered intervals overlapping `[from, to)`, merged and sorted.
    pub fn intervals(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Interval> {
        let mut out = Vec::new();
        if from >= to {
            return out;
        }
        // Local dates whose windows can reach [from, to): offsets lie within ±26 h.
        let first = add(from, -Duration::hours(50)).date_naive();
        let last = add(to, Duration::hours(26)).date_naive();
        let mut day: NaiveDate = first;
        while day <= last {
            for rule in &self.rules {
                if rule.applies_on(day.weekday()) {
                    out.extend(self.rule_on(rule, day));
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        let window = [Interval { start: from, end: to }];
        intersect(&merge(out), &window)
    }

    fn rule_on(&self, rule: &ScheduleRule, day: NaiveDate) -> Vec<Interval> {
        let s_local = day.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(rule.from));
        let to_day = if rule.to > rule.from { 0 } else { 1 };
        let e_local =
            day.and_time(NaiveTime::MIN) + Duration::days(to_day) + Duration::minutes(i64::from(rule.to));
        let (s, e) = (s_local.and_utc(), e_local.and_utc());
        let pieces = offset_pieces(self.zone, add(s, -Duration::hours(26)), add(e, Duration::hours(26)));
        pieces
            .into_iter()
            .filter_map(|(p0, p1, off)| {
                let off = Duration::seconds(off);
                Interval::new(add(s, -off).max(p0), add(e, -off).min(p1))
            })
            .collect()
    }
}

/// What opens an entitlement: approved grants, a schedule, or both (intersection).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRule {
    requires_grant: bool,
    schedule: Option<Schedule>,
}

impl AccessRule {
    /// `None` for standing access (no grant required and no schedule): sesame grants
    /// only time-bound access, so configuration must reject that combination.
    pub fn new(requires_grant: bool, schedule: Option<Schedule>) -> Option<Self> {
        (requires_grant || schedule.is_some()).then_some(Self { requires_grant, schedule })
    }
    pub fn requires_grant(&self) -> bool {
        self.requires_grant
    }
    pub fn schedule(&self) -> Option<&Schedule> {
        self.schedule.as_ref()
    }

    /// The instants in `[from, to)` at which access is open, given the grants for
    /// this entitlement: grants (if required) ∩ schedule (if any).
    pub fn open_intervals(
        &self,
        grants: &[Interval],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Interval> {
        let all = match Interval::new(from, to) {
            Some(iv) => vec![iv],
            None => return Vec::new(),
        };
        let g = if self.requires_grant { intersect(&merge(grants.to_vec()), &all) } else { all.clone() };
        if g.is_empty() {
            return g; // nothing to intersect: skip expanding the schedule
        }
        match &self.schedule {
            Some(s) => intersect(&g, &s.intervals(from, to)),
            None => g,
        }
    }
}
