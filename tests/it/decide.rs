//! The decision core: named table cases and proptest properties.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use proptest::prelude::*;
use sesame::core::decide::{BelowFloor, WhenAllClosed, AWS_MIN_SESSION};
use sesame::core::decision::ClosedReason;
use sesame::core::tags::TagColumn;
use sesame::core::window::{parse_zone, ScheduleRule};
use sesame::core::{
    decide, AccessRule, Decision, Entitlement, Grant, GroupName, Interval, Policy, Refusal, Schedule,
    SetStatus, TagKey, TagSpec, TagValue,
};

use crate::common::{at, nonce};

fn spec(n: usize) -> TagSpec {
    let col = |e: &str, p: &str| TagColumn {
        ec2_key: TagKey::parse("k", e).unwrap(),
        principal: TagKey::parse("k", p).unwrap(),
    };
    TagSpec::new(
        vec![col("APP_GROUP_NAME", "AppGroupName"), col("APP_ID", "AppId"), col("RELEASE_ID", "ReleaseId")],
        n,
    )
    .unwrap()
}

pub fn policy(n: usize, role_max: u32, below_floor: BelowFloor) -> Policy {
    Policy {
        spec: spec(n),
        role_max_session: role_max,
        below_floor,
        assertion_lifetime: 300,
        require_known_instance: false,
        when_all_closed: WhenAllClosed::Sentinels,
    }
}

pub fn business_hours_utc() -> Schedule {
    Schedule {
        name: "bh".into(),
        zone: parse_zone("zone", "UTC").unwrap(),
        rules: vec![ScheduleRule::parse("Mon-Fri", "09:00", "17:00").unwrap()],
    }
}

pub fn ent(group: &str, vals: [&str; 3], schedule: Option<Schedule>, requires_grant: bool) -> Entitlement {
    Entitlement {
        group: GroupName::parse("g", group).unwrap(),
        values: vals.iter().map(|v| TagValue::parse("v", v).unwrap()).collect(),
        access: AccessRule::new(requires_grant, schedule).unwrap(),
    }
}

fn granted(group: &str, vals: [&str; 3]) -> Entitlement {
    ent(group, vals, None, true)
}

fn grant(group: &str, a: &str, b: &str) -> Grant {
    Grant {
        group: GroupName::parse("g", group).unwrap(),
        window: Interval::new(at(a), at(b)).unwrap(),
        ticket: format!("T-{group}"),
    }
}

fn run(now: &str, ents: &[Entitlement], grants: &[Grant], p: &Policy) -> Decision {
    decide(at(now), &nonce(1), ents, grants, None, p)
}

const WEB: [&str; 3] = ["webserver", "ABC", "1.0"];
const PAY: [&str; 3] = ["payments", "PAY", "2.3"];

#[test]
fn no_entitlement_is_refused() {
    let d = run("2026-12-01T12:00:00Z", &[], &[], &policy(4, 3600, BelowFloor::Invalidate));
    assert_eq!(d.refusal, Some(Refusal::NoEntitlement));
    assert!(d.sets.is_empty());
}

#[test]
fn inside_a_grant_emits_real_values_and_the_role_maximum() {
    let d = run(
        "2026-12-01T12:00:00Z",
        &[granted("pam-webserver", WEB)],
        &[grant("pam-webserver", "2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z")],
        &policy(4, 3600, BelowFloor::Invalidate),
    );
    assert_eq!(d.refusal, None);
    assert_eq!(d.session_duration, 3600);
    assert_eq!(d.not_on_or_after, at("2026-12-01T12:05:00Z"));
    let tags: Vec<(&str, &str)> = d.sets[0].tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(tags, vec![("AppGroupName", "webserver"), ("AppId", "ABC"), ("ReleaseId", "1.0")]);
    assert_eq!(d.sets[0].ticket.as_deref(), Some("T-pam-webserver"));
}

#[test]
fn session_is_cut_to_the_window_end() {
    let d = run(
        "2026-12-01T12:00:00Z",
        &[granted("pam-webserver", WEB)],
        &[grant("pam-webserver", "2026-12-01T11:00:00Z", "2026-12-01T12:30:00Z")],
        &policy(4, 3600, BelowFloor::Invalidate),
    );
    assert_eq!(d.session_duration, 1800);
    assert_eq!(d.session_not_on_or_after, at("2026-12-01T12:30:00Z"));
}

#[test]
fn below_the_floor_the_set_is_invalidated_by_default() {
    let g = [grant("pam-webserver", "2026-12-01T11:00:00Z", "2026-12-01T12:10:00Z")];
    let d = run(
        "2026-12-01T12:00:00Z",
        &[granted("pam-webserver", WEB)],
        &g,
        &policy(4, 3600, BelowFloor::Invalidate),
    );
    assert!(matches!(d.sets[0].status, SetStatus::Closed { reason: ClosedReason::EndsBeforeFloor, .. }));
    assert!(d.sets[0].tags.iter().all(|(_, v)| *v == nonce(1).sentinel()));
    assert_eq!(d.session_duration, AWS_MIN_SESSION);
}

#[test]
fn allow_floor_keeps_the_set_but_the_assertion_still_ends_with_the_window() {
    let g = [grant("pam-webserver", "2026-12-01T11:00:00Z", "2026-12-01T12:02:00Z")];
    let d = run(
        "2026-12-01T12:00:00Z",
        &[granted("pam-webserver", WEB)],
        &g,
        &policy(4, 3600, BelowFloor::AllowFloor),
    );
    assert!(d.sets[0].is_open());
    assert_eq!(d.session_duration, 900);
    assert_eq!(d.not_on_or_after, at("2026-12-01T12:02:00Z"));
}

#[test]
fn expired_and_future_grants_close_the_set_with_the_next_opening() {
    let e = [granted("pam-webserver", WEB)];
    let p = policy(4, 3600, BelowFloor::Invalidate);
    let d = run(
        "2026-12-01T12:00:00Z",
        &e,
        &[grant("pam-webserver", "2025-12-01T00:00:00Z", "2025-12-31T00:00:00Z")],
        &p,
    );
    assert_eq!(d.sets[0].status, SetStatus::Closed { reason: ClosedReason::NoCurrentGrant, next_open: None });
    let d = run(
        "2026-12-01T12:00:00Z",
        &e,
        &[grant("pam-webserver", "2026-12-02T22:00:00Z", "2026-12-03T00:00:00Z")],
        &p,
    );
    assert_eq!(
        d.sets[0].status,
        SetStatus::Closed {
            reason: ClosedReason::NoCurrentGrant,
            next_open: Some(at("2026-12-02T22:00:00Z"))
        }
    );
}

#[test]
fn a_grant_ending_exactly_now_is_closed_half_open() {
    let g = [grant("pam-webserver", "2026-12-01T00:00:00Z", "2026-12-01T12:00:00Z")];
    let d = run(
        "2026-12-01T12:00:00Z",
        &[granted("pam-webserver", WEB)],
        &g,
        &policy(4, 3600, BelowFloor::Invalidate),
    );
    assert!(!d.sets[0].is_open());
    let d = run(
        "2026-12-01T00:00:00Z",
        &[granted("pam-webserver", WEB)],
        &g,
        &policy(4, 3600, BelowFloor::Invalidate),
    );
    assert!(d.sets[0].is_open(), "the start instant is inside");
}

#[test]
fn grant_and_schedule_intersect() {
    let e = [ent("pam-payments", PAY, Some(business_hours_utc()), true)];
    let g = [grant("pam-payments", "2026-12-01T00:00:00Z", "2026-12-03T00:00:00Z")];
    let p = policy(4, 43_200, BelowFloor::Invalidate);
    // Tuesday 08:00 UTC: granted, but before the schedule opens.
    let d = run("2026-12-01T08:00:00Z", &e, &g, &p);
    assert_eq!(
        d.sets[0].status,
        SetStatus::Closed {
            reason: ClosedReason::OutsideSchedule,
            next_open: Some(at("2026-12-01T09:00:00Z"))
        }
    );
    // Tuesday 10:00: open until 17:00 (schedule end), session 7 h.
    let d = run("2026-12-01T10:00:00Z", &e, &g, &p);
    assert_eq!(d.session_duration, 7 * 3600);
    // Thursday 10:00: the schedule is open but the grant has ended.
    let d = run("2026-12-03T10:00:00Z", &e, &g, &p);
    assert!(matches!(
        d.sets[0].status,
        SetStatus::Closed { reason: ClosedReason::NoCurrentGrant, next_open: None }
    ));
}

#[test]
fn a_schedule_alone_opens_when_no_grant_is_required() {
    let e = [ent("pam-payments", PAY, Some(business_hours_utc()), false)];
    let p = policy(4, 3600, BelowFloor::Invalidate);
    assert!(run("2026-12-01T10:00:00Z", &e, &[], &p).sets[0].is_open());
    let d = run("2026-12-05T10:00:00Z", &e, &[], &p); // Saturday
    assert_eq!(
        d.sets[0].status,
        SetStatus::Closed {
            reason: ClosedReason::OutsideSchedule,
            next_open: Some(at("2026-12-07T09:00:00Z"))
        }
    );
}

#[test]
fn known_instance_tags_keep_only_the_covering_set() {
    let e = [granted("pam-webserver", WEB), granted("pam-payments", PAY)];
    let g = [
        grant("pam-webserver", "2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z"),
        grant("pam-payments", "2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z"),
    ];
    let p = policy(4, 3600, BelowFloor::Invalidate);
    let tags: HashMap<String, String> =
        [("APP_GROUP_NAME", "payments"), ("APP_ID", "PAY"), ("RELEASE_ID", "2.3"), ("Name", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    let d = decide(at("2026-12-01T12:00:00Z"), &nonce(1), &e, &g, Some(&tags), &p);
    assert_eq!(d.sets.len(), 1);
    assert_eq!(d.sets[0].group.as_str(), "pam-payments");
    assert_eq!(d.sets[0].tags[0].0, "AppGroupName", "the only set is numbered 1");
    assert_eq!(d.omitted.iter().map(|g| g.as_str()).collect::<Vec<_>>(), vec!["pam-webserver"]);

    let mut other = tags.clone();
    other.insert("APP_ID".into(), "pay".into()); // StringEquals is case-sensitive
    let d = decide(at("2026-12-01T12:00:00Z"), &nonce(1), &e, &g, Some(&other), &p);
    assert_eq!(d.refusal, Some(Refusal::NoEntitlementForInstance));
}

#[test]
fn sets_are_numbered_in_group_order_whatever_the_input_order() {
    let g = [grant("B-web", "2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z")];
    let e =
        vec![granted("c-three", WEB), granted("B-web", WEB), granted("a-one", PAY), granted("b-WEB", WEB)];
    let d = run("2026-12-01T12:00:00Z", &e, &g, &policy(4, 3600, BelowFloor::Invalidate));
    let order: Vec<(usize, &str)> = d.sets.iter().map(|s| (s.number, s.group.as_str())).collect();
    assert_eq!(order, vec![(1, "a-one"), (2, "B-web"), (3, "c-three")], "b-WEB is the same group as B-web");
    assert_eq!(d.sets[2].tags[1].0, "AppId3");
}

#[test]
fn too_many_open_sets_are_refused_and_closed_extras_are_omitted() {
    let names = ["g1", "g2", "g3"];
    let e: Vec<_> = names.iter().map(|n| granted(n, WEB)).collect();
    let all: Vec<_> =
        names.iter().map(|n| grant(n, "2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z")).collect();
    let d = run("2026-12-01T12:00:00Z", &e, &all, &policy(2, 3600, BelowFloor::Invalidate));
    assert_eq!(d.refusal, Some(Refusal::TooManyOpenSets { open: 3, max: 2 }));
    let d = run("2026-12-01T12:00:00Z", &e, &all[2..], &policy(2, 3600, BelowFloor::Invalidate));
    let kept: Vec<&str> = d.sets.iter().map(|s| s.group.as_str()).collect();
    assert_eq!(kept, vec!["g1", "g3"], "the open set is kept, one closed set fills the rest");
    assert_eq!(d.omitted.iter().map(|g| g.as_str()).collect::<Vec<_>>(), vec!["g2"]);
}

#[test]
fn the_sentinel_is_a_legal_unpredictable_tag_value() {
    let (a, b) = (nonce(1).sentinel(), nonce(2).sentinel());
    assert_ne!(a, b);
    assert!(a.starts_with("sesame:closed:") && a.len() == 46, "{a}");
    assert!(TagValue::parse("v", &a).is_ok());
}

// ---- properties ----

fn arb_grants(group: String) -> impl Strategy<Value = Vec<Grant>> {
    let base = at("2026-11-01T00:00:00Z").timestamp();
    prop::collection::vec((0i64..90 * 86_400, 60i64..5 * 86_400), 0..4).prop_map(move |v| {
        v.into_iter()
            .map(|(s, len)| Grant {
                group: GroupName::parse("g", &group).unwrap(),
                window: Interval::new(
                    DateTime::from_timestamp(base + s, 0).unwrap(),
                    DateTime::from_timestamp(base + s + len, 0).unwrap(),
                )
                .unwrap(),
                ticket: "T".into(),
            })
            .collect()
    })
}

pub fn arb_case() -> impl Strategy<Value = (Vec<Entitlement>, Vec<Grant>, DateTime<Utc>, Policy)> {
    let value = "[A-Za-z0-9 _.:/=+@-]{0,20}".prop_filter("not a sentinel", |v| !v.starts_with("sesame:"));
    (
        // Group names are unique case-insensitively, as configuration guarantees.
        prop::collection::btree_map("[a-z]{1,6}", (prop::array::uniform3(value), any::<bool>()), 1..6)
            .prop_map(|m| m.into_iter().map(|(g, (v, s))| (g, v, s)).collect::<Vec<_>>()),
        0i64..90 * 86_400,
        prop::sample::select(vec![900u32, 3600, 43_200]),
        1usize..6,
        any::<bool>(),
    )
        .prop_flat_map(|(ents, now, role_max, max_sets, allow)| {
            let grants: Vec<_> = ents.iter().map(|(g, _, _)| arb_grants(g.clone())).collect();
            (Just(ents), grants, Just(now), Just(role_max), Just(max_sets), Just(allow))
        })
        .prop_map(|(ents, grants, now, role_max, max_sets, allow)| {
            let ents = ents
                .into_iter()
                .map(|(g, vals, scheduled)| {
                    let v = [vals[0].as_str(), vals[1].as_str(), vals[2].as_str()];
                    ent(&g, v, scheduled.then(business_hours_utc), true)
                })
                .collect();
            let bf = if allow { BelowFloor::AllowFloor } else { BelowFloor::Invalidate };
            let now = at("2026-11-01T00:00:00Z") + Duration::seconds(now);
            (ents, grants.concat(), now, policy(max_sets, role_max, bf))
        })
}

/// Independent oracle: is entitlement `e` open at `t` (grant-required, optional UTC business hours)?
fn open_at(e: &Entitlement, grants: &[Grant], t: DateTime<Utc>) -> bool {
    let granted = grants.iter().any(|g| g.group == e.group && g.window.start <= t && t < g.window.end);
    let in_hours = t.weekday().num_days_from_monday() < 5 && (9..17).contains(&t.hour());
    granted && (e.access.schedule().is_none() || in_hours)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn outside_every_window_nothing_real_is_emitted((ents, grants, now, p) in arb_case()) {
        let d = decide(now, &nonce(9), &ents, &grants, None, &p);
        let sentinel = nonce(9).sentinel();
        for s in &d.sets {
            let e = ents.iter().find(|e| e.group == s.group).unwrap();
            if !open_at(e, &grants, now) {
                prop_assert!(!s.is_open());
            }
            if !s.is_open() {
                prop_assert!(s.tags.iter().all(|(_, v)| *v == sentinel));
            } else {
                prop_assert!(open_at(e, &grants, now));
                let real: Vec<&str> = e.values.iter().map(|v| v.as_str()).collect();
                let got: Vec<&str> = s.tags.iter().map(|(_, v)| v.as_str()).collect();
                prop_assert_eq!(real, got);
            }
            for other in &ents {
                prop_assert!(other.values.iter().all(|v| v.as_str() != sentinel));
            }
        }
    }

    #[test]
    fn the_session_never_outlives_a_window((ents, grants, now, p) in arb_case()) {
        let d = decide(now, &nonce(3), &ents, &grants, None, &p);
        prop_assume!(d.refusal.is_none());
        prop_assert!((900..=p.role_max_session.max(900)).contains(&d.session_duration));
        prop_assert!(d.not_on_or_after > now);
        prop_assert!(d.not_on_or_after <= now + Duration::seconds(i64::from(p.assertion_lifetime)));
        for s in &d.sets {
            if let SetStatus::Open { window } = &s.status {
                prop_assert!(window.contains(now));
                prop_assert!(d.not_on_or_after <= window.end);
                if p.below_floor == BelowFloor::Invalidate {
                    prop_assert!(d.session_not_on_or_after <= window.end);
                }
            }
        }
        prop_assert_eq!(d.session_not_on_or_after, now + Duration::seconds(i64::from(d.session_duration)));
    }

    #[test]
    fn numbering_is_dense_and_stable((ents, grants, now, p) in arb_case(), seed in any::<u64>()) {
        let d = decide(now, &nonce(5), &ents, &grants, None, &p);
        let mut shuffled = ents.clone();
        let n = shuffled.len();
        for i in 0..n {
            let j = (seed.rotate_left(i as u32) as usize) % n;
            shuffled.swap(i, j);
        }
        let d2 = decide(now, &nonce(5), &shuffled, &grants, None, &p);
        prop_assert_eq!(&d, &d2);
        for (i, s) in d.sets.iter().enumerate() {
            prop_assert_eq!(s.number, i + 1);
            for (c, (name, _)) in s.tags.iter().enumerate() {
                prop_assert_eq!(name, &p.spec.principal_name(i + 1, c));
            }
        }
        prop_assert!(d.sets.len() <= p.spec.max_sets());
    }
}

#[test]
fn response_and_assertion_ids_differ_even_for_a_constant_nonce() {
    // Regression: a nonce of 48 equal bytes gave both elements the same ID, and
    // libxmlsec1 then resolved the Assertion's signature reference to the Response.
    let n = sesame::core::Nonce::from_bytes([7; 48]);
    assert_ne!(n.response_id(), n.assertion_id());
    assert!(n.response_id().starts_with("_R") && n.assertion_id().starts_with("_A"));
}

#[test]
fn extreme_instants_do_not_panic() {
    let e = [ent("pam-payments", PAY, Some(business_hours_utc()), true)];
    let g = [grant("pam-payments", "2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z")];
    let p = policy(4, 3600, BelowFloor::Invalidate);
    for t in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC, at("9999-12-31T23:59:59Z")] {
        let d = decide(t, &nonce(1), &e, &g, None, &p);
        assert!(!d.sets[0].is_open());
    }
}

/// One entitlement's grants, and one more for the same entitlement.
fn arb_stack() -> impl Strategy<Value = (Vec<Entitlement>, Vec<Grant>, Grant, DateTime<Utc>, Policy)> {
    (arb_case(), arb_grants("extra".into()).prop_filter("one extra grant", |g| !g.is_empty())).prop_map(
        |((ents, grants, now, p), extra)| {
            // The extra grant goes to the first entitlement, whatever its name.
            let group = ents[0].group.clone();
            let extra = Grant { group, ..extra[0].clone() };
            (ents, grants, extra, now, p)
        },
    )
}

/// The open window of `group`'s set, if it is open.
fn window_of(d: &Decision, group: &GroupName) -> Option<Interval> {
    d.sets.iter().find(|s| s.group == *group).and_then(|s| match s.status {
        SetStatus::Open { window } => Some(window),
        SetStatus::Closed { .. } => None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Issue 13: grants stack. Adding a grant for an entitlement never shortens its
    /// access: a set open without it is open with it, until no earlier.
    #[test]
    fn adding_a_grant_never_shortens_access((ents, grants, extra, now, p) in arb_stack()) {
        let before = decide(now, &nonce(3), &ents, &grants, None, &p);
        let mut more = grants.clone();
        more.push(extra.clone());
        let after = decide(now, &nonce(3), &ents, &more, None, &p);
        if let Some(w) = window_of(&before, &extra.group) {
            let w2 = window_of(&after, &extra.group);
            prop_assert!(w2.is_some_and(|w2| w2.start <= w.start && w2.end >= w.end), "{w:?} became {w2:?}");
        }
    }

    /// Revoking one grant never shortens what another grants: what the remaining grants
    /// open at `now` stays open, and their window stays whole.
    #[test]
    fn revoking_one_grant_never_shortens_what_another_grants((ents, grants, extra, now, p) in arb_stack()) {
        let mut all = grants.clone();
        all.push(extra.clone());
        let remaining = grants;
        let without = decide(now, &nonce(4), &ents, &remaining, None, &p);
        if let Some(w) = window_of(&without, &extra.group) {
            let with = decide(now, &nonce(4), &ents, &all, None, &p);
            let w2 = window_of(&with, &extra.group);
            prop_assert!(w2.is_some_and(|w2| w2.start <= w.start && w2.end >= w.end));
            // And abutting grants are one window: a grant starting where another ends extends it.
            let abut = Grant { window: Interval::new(w.end, w.end + Duration::hours(2)).unwrap(), ..extra.clone() };
            let mut chained = remaining.clone();
            chained.push(abut);
            if let Some(w3) = window_of(&decide(now, &nonce(4), &ents, &chained, None, &p), &extra.group) {
                prop_assert!(w3.end >= w.end + Duration::hours(2) || ents[0].access.schedule().is_some());
            }
        }
    }
}
