//! `decide`: a pure function from (now, nonce, entitlements, grants, instance tags,
//! policy) to a [`Decision`]. It reads no clock, does no I/O and cannot fail: a
//! refusal is a value.
//!
//! Rules, in order:
//! 1. no entitlement → refuse;
//! 2. instance tags known → keep only the sets that cover the instance (every column's
//!    EC2 tag equals the set's value, case-sensitively as `StringEquals` compares);
//!    none → refuse;
//! 3. each set is open when its [`AccessRule`] is open at `now`; an open set whose
//!    window ends less than [`AWS_MIN_SESSION`] seconds from now is closed
//!    ([`BelowFloor::Invalidate`], default) or kept with a 900-second session
//!    ([`BelowFloor::AllowFloor`], which lets the session outlive the window by up
//!    to 15 minutes and must be chosen explicitly);
//! 4. sets are numbered 1..k in case-insensitive group-name order; more open sets
//!    than `max_sets` → refuse; closed sets beyond the maximum are omitted;
//! 5. SessionDuration = min(role maximum, time left in every open window), never
//!    below 900; with no open set it is 900 (no real tag is emitted anyway);
//! 6. the assertion is valid until min(now + lifetime, end of every open window).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::decision::{ClosedReason, Decision, Refusal, SetOutcome, SetStatus};
use super::ids::GroupName;
use super::sentinel::Nonce;
use super::tags::{TagSpec, TagValue};
use super::window::{add, AccessRule, Grant, Interval};

/// AWS's minimum SessionDuration, seconds.
pub const AWS_MIN_SESSION: u32 = 900;
/// AWS's maximum SessionDuration, seconds.
pub const AWS_MAX_SESSION: u32 = 43_200;

/// How far ahead the current window is followed, and how far the next opening is sought.
const LOOKAHEAD: Duration = Duration::days(8);
const NEXT_OPEN_HORIZON: Duration = Duration::days(366);

/// What to do with a set whose window closes within AWS's 900-second floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BelowFloor {
    /// Close the set (sentinel values). The default: the session never outlives the window.
    #[default]
    Invalidate,
    /// Keep it open with SessionDuration = 900; the session may outlive the window.
    AllowFloor,
}

/// One entitlement: a directory group mapped to one tag set and its access rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Entitlement {
    pub group: GroupName,
    /// One value per column of the [`TagSpec`], in column order.
    pub values: Vec<TagValue>,
    pub access: AccessRule,
}

/// The part of configuration `decide` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub spec: TagSpec,
    /// The role's maximum session duration, seconds (900..=43200).
    pub role_max_session: u32,
    pub below_floor: BelowFloor,
    /// How long an assertion may be presented to AWS, seconds.
    pub assertion_lifetime: u32,
    /// Refuse an instance the inventory does not know (`instance_tags` is `None`)
    /// instead of emitting every set. Only set with an inventory configured.
    pub require_known_instance: bool,
    /// What a request whose sets are all closed gets.
    pub when_all_closed: WhenAllClosed,
}

/// `aws.when_all_closed`: a response whose every PrincipalTag is a sentinel (the
/// default: AWS signs the person in, the policy allows nothing), or no sign-in at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenAllClosed {
    #[default]
    Sentinels,
    Refuse,
}

fn covers(spec: &TagSpec, e: &Entitlement, tags: &HashMap<String, String>) -> bool {
    spec.columns().len() == e.values.len()
        && spec
            .columns()
            .iter()
            .zip(&e.values)
            .all(|(c, v)| tags.get(c.ec2_key.as_str()).is_some_and(|t| t == v.as_str()))
}

struct Evaluated<'a> {
    ent: &'a Entitlement,
    status: SetStatus,
    ticket: Option<String>,
}

/// One entitlement's status at `now` on its own — no set numbering, no `max_sets`,
/// no instance: what the launcher shows before the person picks an instance. The same
/// evaluation `decide` gives each of its sets.
pub fn status_of(now: DateTime<Utc>, e: &Entitlement, grants: &[Grant], policy: &Policy) -> SetStatus {
    let mine: Vec<&Grant> = grants.iter().filter(|g| g.group == e.group).collect();
    evaluate(now, e, &mine, policy).status
}

fn evaluate<'a>(now: DateTime<Utc>, e: &'a Entitlement, grants: &[&Grant], policy: &Policy) -> Evaluated<'a> {
    let windows: Vec<Interval> = grants.iter().map(|g| g.window).collect();
    // Grants alone are cheap to evaluate over all time; schedules are expanded day by
    // day, so only around `now`, and further only when the window reaches the horizon.
    let (lo, hi) = match e.access.schedule() {
        None => (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
        Some(_) => (add(now, -Duration::days(1)), add(now, LOOKAHEAD)),
    };
    let mut open = e.access.open_intervals(&windows, lo, hi);
    if open.iter().any(|iv| iv.contains(now) && iv.end == hi) && hi < DateTime::<Utc>::MAX_UTC {
        open = e.access.open_intervals(&windows, lo, add(now, NEXT_OPEN_HORIZON));
    }
    let ticket = grants.iter().find(|g| g.window.contains(now)).map(|g| g.ticket.clone());
    if let Some(window) = open.iter().find(|iv| iv.contains(now)).copied() {
        let left = (window.end - now).num_seconds();
        if left < i64::from(AWS_MIN_SESSION) && policy.below_floor == BelowFloor::Invalidate {
            let next_open = open.iter().find(|iv| iv.start > window.end).map(|iv| iv.start);
            let status = SetStatus::Closed { reason: ClosedReason::EndsBeforeFloor, next_open };
            return Evaluated { ent: e, status, ticket };
        }
        return Evaluated { ent: e, status: SetStatus::Open { window }, ticket };
    }
    let next_open = open.iter().find(|iv| iv.start > now).map(|iv| iv.start).or_else(|| {
        e.access
            .open_intervals(&windows, now, add(now, NEXT_OPEN_HORIZON))
            .first()
            .map(|iv| iv.start.max(now))
    });
    let granted = windows.iter().any(|w| w.contains(now));
    let reason = if e.access.requires_grant() && !granted {
        ClosedReason::NoCurrentGrant
    } else {
        ClosedReason::OutsideSchedule
    };
    Evaluated { ent: e, status: SetStatus::Closed { reason, next_open }, ticket: None }
}

/// Decides what one request gets at `now`. See the module documentation for the rules.
pub fn decide(
    now: DateTime<Utc>,
    nonce: &Nonce,
    entitlements: &[Entitlement],
    grants: &[Grant],
    instance_tags: Option<&HashMap<String, String>>,
    policy: &Policy,
) -> Decision {
    decide_sets(now, nonce, entitlements, grants, instance_tags, policy, instance_tags.is_none())
}

/// For the console's role picker: the person chooses the account after sign-in, so
/// every set is decided (rule 2 does not narrow them to the instance's). Rule 2's
/// refusal of an instance the inventory does not know still holds
/// (`inventory.require_known_instance`): `instance_known` says whether it knew it.
pub fn decide_picker(
    now: DateTime<Utc>,
    nonce: &Nonce,
    entitlements: &[Entitlement],
    grants: &[Grant],
    instance_known: bool,
    policy: &Policy,
) -> Decision {
    decide_sets(now, nonce, entitlements, grants, None, policy, !instance_known)
}

fn decide_sets(
    now: DateTime<Utc>,
    nonce: &Nonce,
    entitlements: &[Entitlement],
    grants: &[Grant],
    instance_tags: Option<&HashMap<String, String>>,
    policy: &Policy,
    unknown_instance: bool,
) -> Decision {
    let lifetime = Duration::seconds(i64::from(policy.assertion_lifetime));
    let refuse = |refusal: Refusal, omitted: Vec<GroupName>| Decision {
        at: now,
        refusal: Some(refusal),
        sets: Vec::new(),
        omitted,
        session_duration: 0,
        not_on_or_after: now,
        session_not_on_or_after: now,
    };

    // Stable order, one entry per group (case-insensitive).
    let mut ents: Vec<&Entitlement> = entitlements.iter().collect();
    // Sorting on every field makes the order total, so duplicates (which configuration
    // forbids) still resolve the same way whatever order the directory returned. Each
    // key is made once (it allocates), not once per comparison.
    ents.sort_by_cached_key(|e| {
        let values: Vec<&str> = e.values.iter().map(TagValue::as_str).collect();
        let schedule = e.access.schedule().map(|s| s.name.clone());
        (
            e.group.fold(),
            e.group.as_str().to_owned(),
            values.join("\u{0}"),
            e.access.requires_grant(),
            schedule,
        )
    });
    ents.dedup_by(|a, b| a.group == b.group);
    if ents.is_empty() {
        return refuse(Refusal::NoEntitlement, Vec::new());
    }

    if policy.require_known_instance && unknown_instance {
        return refuse(Refusal::UnknownInstance, Vec::new());
    }
    let mut omitted = Vec::new();
    if let Some(tags) = instance_tags {
        let (keep, drop): (Vec<&Entitlement>, Vec<&Entitlement>) =
            ents.into_iter().partition(|e| covers(&policy.spec, e, tags));
        omitted.extend(drop.iter().map(|e| e.group.clone()));
        if keep.is_empty() {
            return refuse(Refusal::NoEntitlementForInstance, omitted);
        }
        ents = keep;
    }

    let evaluated: Vec<Evaluated> = ents
        .iter()
        .map(|e| {
            let mine: Vec<&Grant> = grants.iter().filter(|g| g.group == e.group).collect();
            evaluate(now, e, &mine, policy)
        })
        .collect();

    let open = evaluated.iter().filter(|v| matches!(v.status, SetStatus::Open { .. })).count();
    let max = policy.spec.max_sets();
    if open > max {
        return refuse(Refusal::TooManyOpenSets { open, max }, omitted);
    }
    let mut room_for_closed = max - open;
    let mut kept = Vec::with_capacity(evaluated.len().min(max));
    for v in evaluated {
        if matches!(v.status, SetStatus::Open { .. }) {
            kept.push(v);
        } else if room_for_closed > 0 {
            room_for_closed -= 1;
            kept.push(v);
        } else {
            omitted.push(v.ent.group.clone());
        }
    }

    if open == 0 && policy.when_all_closed == WhenAllClosed::Refuse {
        let next = kept
            .iter()
            .filter_map(|v| match &v.status {
                SetStatus::Closed { next_open: Some(t), .. } => Some((*t, v.ent)),
                _ => None,
            })
            .min_by_key(|(t, _)| *t);
        let zone = next.and_then(|(_, e)| e.access.schedule().map(|s| s.zone)).unwrap_or(chrono_tz::UTC);
        return refuse(Refusal::AllClosed { next_open: next.map(|(t, _)| t), zone }, omitted);
    }
    let sentinel = nonce.sentinel();
    let mut earliest_end: Option<DateTime<Utc>> = None;
    let sets: Vec<SetOutcome> = kept
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let number = i + 1;
            let is_open = matches!(v.status, SetStatus::Open { .. });
            if let SetStatus::Open { window } = &v.status {
                earliest_end = Some(earliest_end.map_or(window.end, |t| t.min(window.end)));
            }
            let tags = (0..policy.spec.columns().len())
                .map(|c| {
                    let value = match (is_open, v.ent.values.get(c)) {
                        (true, Some(val)) => val.as_str().to_owned(),
                        _ => sentinel.clone(),
                    };
                    (policy.spec.principal_name(number, c), value)
                })
                .collect();
            let zone = v.ent.access.schedule().map_or(chrono_tz::UTC, |s| s.zone);
            SetOutcome { number, group: v.ent.group.clone(), status: v.status, tags, zone, ticket: v.ticket }
        })
        .collect();

    let role_max = i64::from(policy.role_max_session.clamp(AWS_MIN_SESSION, AWS_MAX_SESSION));
    let session_secs = match earliest_end {
        Some(end) => (end - now).num_seconds().clamp(i64::from(AWS_MIN_SESSION), role_max),
        None => i64::from(AWS_MIN_SESSION),
    };
    let session_duration = u32::try_from(session_secs).unwrap_or(AWS_MIN_SESSION);
    let mut not_on_or_after = add(now, lifetime);
    if let Some(end) = earliest_end {
        not_on_or_after = not_on_or_after.min(end);
    }
    Decision {
        at: now,
        refusal: None,
        sets,
        omitted,
        session_duration,
        not_on_or_after,
        session_not_on_or_after: add(now, Duration::seconds(session_secs)),
    }
}
