//! Properties of the reaper's plan (`core::reap`): nothing ends early, a revocation
//! only brings an end forward and only for its person and entitlement, a done
//! decision never comes back, and the plan does not depend on the order its facts
//! are read in (a restart rebuilds the same plan).

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use sesame::core::reap::{Ended, Opened, Plan, Why};

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0).single().unwrap()
}

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const ENTS: [&str; 3] = ["pam-a", "pam-b", "pam-c"];

prop_compose! {
    fn arb_opened()(i in 0u32..1000, u in 0usize..3, at in 0i64..10_000, len in 1i64..10_000,
                    ents in proptest::sample::subsequence(ENTS.to_vec(), 1..=3)) -> Opened {
        Opened {
            key: format!("_A{i:032}"),
            user: USERS[u].into(),
            region: "us-east-1".into(),
            session_name: format!("{}.{i:012}", USERS[u]),
            at: t(at),
            ends: t(at + len),
            entitlements: ents.into_iter().map(str::to_owned).collect(),
        }
    }
}

prop_compose! {
    fn arb_ended()(u in 0usize..3, e in 0usize..3, at in 0i64..20_000) -> Ended {
        Ended { user: USERS[u].into(), entitlement: ENTS[e].into(), at: t(at) }
    }
}

fn plan(opened: &[Opened], ended: &[Ended]) -> Plan {
    let mut p = Plan::default();
    opened.iter().cloned().for_each(|o| p.opened(o));
    ended.iter().cloned().for_each(|e| p.ended(e));
    p
}

proptest! {
    #[test]
    fn nothing_is_due_before_its_window_ends_unless_a_grant_it_used_ended(
        opened in proptest::collection::vec(arb_opened(), 1..20),
        ended in proptest::collection::vec(arb_ended(), 0..10),
        now in 0i64..25_000,
    ) {
        let p = plan(&opened, &ended);
        for job in p.due(t(now)) {
            let o = opened.iter().rev().find(|o| o.key == job.key).unwrap();
            prop_assert!(job.due <= t(now));
            match job.why {
                Why::WindowEnd => prop_assert_eq!(job.due, o.ends),
                Why::Revoked => {
                    prop_assert!(job.due < o.ends);
                    prop_assert!(ended.iter().any(|e| e.at == job.due && e.user == o.user
                        && o.entitlements.contains(&e.entitlement) && e.at >= o.at));
                }
            }
        }
        // Everything whose window has ended is due.
        for o in &opened {
            let latest = opened.iter().rev().find(|x| x.key == o.key).unwrap();
            if latest.ends <= t(now) {
                prop_assert!(p.due(t(now)).iter().any(|j| j.key == o.key));
            }
        }
    }

    #[test]
    fn a_revocation_only_brings_ends_forward_and_only_for_its_person_and_entitlement(
        opened in proptest::collection::vec(arb_opened(), 1..20),
        ended in proptest::collection::vec(arb_ended(), 0..10),
        extra in arb_ended(),
    ) {
        let before = plan(&opened, &ended);
        let mut with = ended.clone();
        with.push(extra.clone());
        let after = plan(&opened, &with);
        for o in &opened {
            let (b, _) = before.due_at(o);
            let (a, _) = after.due_at(o);
            prop_assert!(a <= b, "a revocation delayed an end");
            let concerned = o.user == extra.user && o.entitlements.contains(&extra.entitlement) && extra.at >= o.at;
            if !concerned {
                prop_assert_eq!(a, b, "a revocation moved someone else's end");
            }
        }
    }

    #[test]
    fn a_done_decision_never_comes_back_and_order_does_not_matter(
        opened in proptest::collection::vec(arb_opened(), 1..20),
        ended in proptest::collection::vec(arb_ended(), 0..10),
        done in proptest::collection::vec(0usize..20, 0..5),
        now in 0i64..25_000,
    ) {
        let mut p = plan(&opened, &ended);
        let keys: Vec<String> = done.iter().filter_map(|i| opened.get(*i).map(|o| o.key.clone())).collect();
        for k in &keys {
            p.done(k, t(0));
        }
        // Read again (a feed may deliver a decision after its done record).
        opened.iter().cloned().for_each(|o| p.opened(o));
        prop_assert!(p.due(t(now)).iter().all(|j| !keys.contains(&j.key)));
        // Done first, facts after, in reverse order: the same jobs.
        let mut q = Plan::default();
        keys.iter().for_each(|k| q.done(k, t(0)));
        ended.iter().rev().cloned().for_each(|e| q.ended(e));
        let mut dedup: Vec<Opened> = Vec::new();
        for o in opened.iter().rev() {
            if !dedup.iter().any(|d| d.key == o.key) {
                dedup.push(o.clone());
            }
        }
        dedup.iter().cloned().for_each(|o| q.opened(o));
        let mut r = Plan::default();
        opened.iter().cloned().for_each(|o| r.opened(o));
        ended.iter().cloned().for_each(|e| r.ended(e));
        keys.iter().for_each(|k| r.done(k, t(0)));
        prop_assert_eq!(q.due(t(now)), r.due(t(now)));
    }
}
