//! The result of [`super::decide`]: per tag set, open or closed and why.
//!
//! A `Decision` is what the caller shows the person ("your window opens 22:00
//! America/New_York") and what the audit record keeps; SAML is built from it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::ids::GroupName;
use super::window::Interval;

/// Why no assertion is minted at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The user holds no entitlement that sesame maps.
    NoEntitlement,
    /// The instance's tags are known and none of the user's tag sets covers them.
    NoEntitlementForInstance,
    /// More open sets than the configured maximum: emitting only some would be arbitrary.
    TooManyOpenSets { open: usize, max: usize },
    /// `inventory.require_known_instance`: the inventory does not know the instance, so
    /// which set covers it cannot be told, and every set is not emitted instead.
    UnknownInstance,
    /// `aws.when_all_closed = "refuse"`: every set is closed; no sign-in at all. When the
    /// earliest closed set opens next, and in which zone its schedule is written.
    AllClosed { next_open: Option<DateTime<Utc>>, zone: Tz },
}

impl Refusal {
    /// Stable machine code (API, audit, exit messages).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoEntitlement => "no_entitlement",
            Refusal::NoEntitlementForInstance => "no_entitlement_for_instance",
            Refusal::TooManyOpenSets { .. } => "too_many_open_sets",
            Refusal::UnknownInstance => "unknown_instance",
            Refusal::AllClosed { .. } => "all_closed",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoEntitlement => f.write_str("the user has no sesame entitlement"),
            Refusal::NoEntitlementForInstance => {
                f.write_str("none of the user's entitlements covers this instance's tags")
            }
            Refusal::TooManyOpenSets { open, max } => {
                write!(f, "{open} tag sets are open but at most {max} fit in one session (tags.max_sets)")
            }
            Refusal::UnknownInstance => {
                f.write_str("the inventory does not know this instance (inventory.require_known_instance)")
            }
            Refusal::AllClosed { next_open: Some(t), zone } => write!(
                f,
                "every tag set is closed now; the next opens {} ({})",
                t.with_timezone(zone).format("%Y-%m-%d %H:%M %Z"),
                super::text::saml_time(*t)
            ),
            Refusal::AllClosed { next_open: None, .. } => {
                f.write_str("every tag set is closed now, and none opens again within a year")
            }
        }
    }
}

/// Why a set is closed (its tags are replaced by the sentinel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedReason {
    /// The entitlement needs an approved grant and none covers now.
    NoCurrentGrant,
    /// A grant covers now (or none is needed) but the schedule does not.
    OutsideSchedule,
    /// Open now, but the window closes before AWS's 900-second session floor.
    EndsBeforeFloor,
}

impl ClosedReason {
    pub fn code(&self) -> &'static str {
        match self {
            ClosedReason::NoCurrentGrant => "no_current_grant",
            ClosedReason::OutsideSchedule => "outside_schedule",
            ClosedReason::EndsBeforeFloor => "ends_before_floor",
        }
    }
    pub fn message(&self) -> &'static str {
        match self {
            ClosedReason::NoCurrentGrant => "no approved grant covers this moment",
            ClosedReason::OutsideSchedule => "outside the entitlement's schedule",
            ClosedReason::EndsBeforeFloor => {
                "the window closes in less than AWS's 900-second minimum session"
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetStatus {
    /// Real tag values are emitted; access lasts until `window.end` at most.
    Open { window: Interval },
    /// Every tag of the set is the sentinel.
    Closed {
        reason: ClosedReason,
        /// The next instant the entitlement opens, if one is known within a year.
        next_open: Option<DateTime<Utc>>,
    },
}

/// One emitted tag set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome {
    /// 1-based position; set k uses `PrincipalTag:<Name>` (k = 1) or `<Name>k`.
    pub number: usize,
    pub group: GroupName,
    pub status: SetStatus,
    /// `(principal tag key, value)` in column order; values are real or the sentinel.
    pub tags: Vec<(String, String)>,
    /// The zone to show times in (the schedule's zone, else UTC).
    pub zone: Tz,
    /// Ticket of the grant that opens the set, when one does.
    pub ticket: Option<String>,
}

impl SetOutcome {
    pub fn is_open(&self) -> bool {
        matches!(self.status, SetStatus::Open { .. })
    }
}

/// The whole decision for one request at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub at: DateTime<Utc>,
    /// `Some` means: mint nothing.
    pub refusal: Option<Refusal>,
    /// Emitted sets in number order (empty when refused).
    pub sets: Vec<SetOutcome>,
    /// Entitlements the user holds that are not emitted (other instances, or beyond the maximum).
    pub omitted: Vec<GroupName>,
    /// SessionDuration in seconds (900..=43200).
    pub session_duration: u32,
    /// End of the assertion's validity (Conditions, SubjectConfirmationData).
    pub not_on_or_after: DateTime<Utc>,
    /// End of the AWS session (AuthnStatement SessionNotOnOrAfter) = at + session_duration.
    pub session_not_on_or_after: DateTime<Utc>,
}

impl Decision {
    pub fn open_sets(&self) -> usize {
        self.sets.iter().filter(|s| s.is_open()).count()
    }
}
