//! Schedules in IANA zones and the daylight-saving rule stated in src/core/window.rs:
//! a rule covers exactly the instants whose local wall-clock reading is in [from, to).

use chrono::Duration;
use sesame::core::window::{intersect, merge, parse_zone, ScheduleRule};
use sesame::core::{Interval, Schedule};

use crate::common::at;

fn sched(zone: &str, days: &str, from: &str, to: &str) -> Schedule {
    Schedule {
        name: "t".into(),
        zone: parse_zone("zone", zone).unwrap(),
        rules: vec![ScheduleRule::parse(days, from, to).unwrap()],
    }
}

fn iv(a: &str, b: &str) -> Interval {
    Interval::new(at(a), at(b)).unwrap()
}

/// The covered intervals that start on the local day `day` in the schedule's zone.
fn on(s: &Schedule, day: &str) -> Vec<Interval> {
    let d = at(&format!("{day}T00:00:00Z"));
    s.intervals(d - Duration::hours(36), d + Duration::hours(60))
        .into_iter()
        .filter(|iv| iv.start.with_timezone(&s.zone).format("%Y-%m-%d").to_string() == day)
        .collect()
}

fn total(v: &[Interval]) -> Duration {
    v.iter().map(|i| i.end - i.start).sum()
}

#[test]
fn business_hours_in_winter_and_summer() {
    let s = sched("America/New_York", "Mon-Fri", "09:00", "17:00");
    assert_eq!(on(&s, "2026-12-01"), vec![iv("2026-12-01T14:00:00Z", "2026-12-01T22:00:00Z")]);
    assert_eq!(on(&s, "2026-07-01"), vec![iv("2026-07-01T13:00:00Z", "2026-07-01T21:00:00Z")]);
    assert_eq!(on(&s, "2026-12-05"), vec![], "Saturday");
}

#[test]
fn new_york_spring_forward_skips_the_gap() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
    let s = sched("America/New_York", "Sun", "01:30", "02:30");
    assert_eq!(on(&s, "2026-03-08"), vec![iv("2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z")]);
    let s = sched("America/New_York", "Sun", "02:30", "04:00");
    assert_eq!(on(&s, "2026-03-08"), vec![iv("2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z")]);
    let s = sched("America/New_York", "Sun", "00:00", "24:00");
    assert_eq!(total(&on(&s, "2026-03-08")), Duration::hours(23));
}

#[test]
fn new_york_fall_back_covers_repeated_hours_twice() {
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST (06:00Z).
    let s = sched("America/New_York", "Sun", "01:00", "02:00");
    assert_eq!(on(&s, "2026-11-01"), vec![iv("2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z")]);
    let s = sched("America/New_York", "Sun", "01:30", "03:00");
    assert_eq!(
        on(&s, "2026-11-01"),
        vec![
            iv("2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z"),
            iv("2026-11-01T06:30:00Z", "2026-11-01T08:00:00Z")
        ]
    );
    let s = sched("America/New_York", "Sun", "00:00", "24:00");
    assert_eq!(total(&on(&s, "2026-11-01")), Duration::hours(25));
}

#[test]
fn berlin_spring_forward_window_inside_the_gap_is_empty() {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    let s = sched("Europe/Berlin", "Sun", "02:15", "02:45");
    assert_eq!(on(&s, "2026-03-29"), vec![]);
    let s = sched("Europe/Berlin", "Sun", "01:00", "04:00");
    assert_eq!(on(&s, "2026-03-29"), vec![iv("2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z")]);
}

#[test]
fn berlin_fall_back_covers_the_repeated_hour_twice() {
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00Z).
    let s = sched("Europe/Berlin", "Sun", "02:00", "03:00");
    assert_eq!(on(&s, "2026-10-25"), vec![iv("2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z")]);
}

#[test]
fn sydney_southern_hemisphere_transitions() {
    // 2026-04-05: 03:00 AEDT falls back to 02:00 AEST; 2026-10-04: 02:00 AEST jumps to 03:00 AEDT.
    let s = sched("Australia/Sydney", "Sun", "00:00", "24:00");
    assert_eq!(total(&on(&s, "2026-04-05")), Duration::hours(25));
    assert_eq!(total(&on(&s, "2026-10-04")), Duration::hours(23));
}

#[test]
fn overnight_rules_belong_to_the_day_they_start() {
    let s = sched("America/New_York", "Fri", "22:00", "06:00");
    // Friday 2026-12-04 22:00 EST to Saturday 06:00 EST.
    assert_eq!(on(&s, "2026-12-04"), vec![iv("2026-12-05T03:00:00Z", "2026-12-05T11:00:00Z")]);
    assert_eq!(on(&s, "2026-12-05"), vec![], "Saturday has no window of its own");
}

#[test]
fn adjacent_days_merge_into_one_window() {
    let s = sched("UTC", "Mon-Sun", "00:00", "24:00");
    let v = s.intervals(at("2026-12-01T00:00:00Z"), at("2026-12-04T00:00:00Z"));
    assert_eq!(v, vec![iv("2026-12-01T00:00:00Z", "2026-12-04T00:00:00Z")]);
}

#[test]
fn rule_syntax_errors_name_the_field() {
    assert_eq!(ScheduleRule::parse("Mon-Fr", "09:00", "17:00").unwrap_err().field, "days");
    assert_eq!(ScheduleRule::parse("Funday", "09:00", "17:00").unwrap_err().field, "days");
    assert_eq!(ScheduleRule::parse("Mon", "9:00", "17:00").unwrap_err().field, "from");
    assert_eq!(ScheduleRule::parse("Mon", "09:00", "24:01").unwrap_err().field, "to");
    assert_eq!(ScheduleRule::parse("Mon", "24:00", "01:00").unwrap_err().field, "from");
    assert_eq!(ScheduleRule::parse("Mon", "09:00", "09:00").unwrap_err().field, "to");
    assert!(ScheduleRule::parse("monday, Wed-Fri", "09:00", "24:00").is_ok());
    assert!(ScheduleRule::parse("Sat-Mon", "09:00", "17:00").is_ok(), "ranges wrap around the week");
    assert!(parse_zone("zone", "America/Nowhere").is_err());
}

#[test]
fn merge_and_intersect_are_half_open() {
    let a = merge(vec![
        iv("2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"),
        iv("2026-01-01T00:00:00Z", "2026-01-01T02:00:00Z"),
    ]);
    assert_eq!(a, vec![iv("2026-01-01T00:00:00Z", "2026-01-01T03:00:00Z")]);
    let b = vec![iv("2026-01-01T03:00:00Z", "2026-01-01T04:00:00Z")];
    assert_eq!(intersect(&a, &b), vec![], "touching intervals share no instant");
    assert!(Interval::new(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z")).is_none());
}
