//! The join of what AWS accepted with what sesame released: each `AssumeRoleWithSAML`
//! sign-in for the configured SAML provider(s) is matched by its `sAMLAssertionID`
//! against the minted assertions, and what does not agree becomes an [`Alert`]. A
//! sign-in whose assertion sesame never minted is the signature of a forged token (a
//! stolen signing key, "Golden SAML") or of another IdP sharing the provider.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::cloudtrail::SignIn;
use super::minted::{Index, Minted, Released};
use crate::core::accounts::Template;
use crate::core::text::saml_time;

/// What kind of disagreement an alert reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The assertion ID is not in the log (or the event names none).
    NotMinted,
    /// principalTags differ from the PrincipalTags minted.
    TagsDiffer,
    /// roleSessionName or sourceIdentity differ from what was minted.
    IdentityDiffers,
    /// durationSeconds is absent or differs from the SessionDuration minted.
    DurationDiffers,
    /// The sign-in came at or after the assertion's NotOnOrAfter.
    AfterNotOnOrAfter,
    /// A second sign-in (another eventID) with an assertion already used.
    Reused,
}

impl AlertKind {
    pub const ALL: [AlertKind; 6] = [
        AlertKind::NotMinted,
        AlertKind::TagsDiffer,
        AlertKind::IdentityDiffers,
        AlertKind::DurationDiffers,
        AlertKind::AfterNotOnOrAfter,
        AlertKind::Reused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::NotMinted => "not_minted",
            AlertKind::TagsDiffer => "tags_differ",
            AlertKind::IdentityDiffers => "identity_differs",
            AlertKind::DurationDiffers => "duration_differs",
            AlertKind::AfterNotOnOrAfter => "after_not_on_or_after",
            AlertKind::Reused => "reused",
        }
    }
}

/// Where and when AWS saw a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub event_id: String,
    #[serde(serialize_with = "instant")]
    pub time: DateTime<Utc>,
    pub source_ip: Option<String>,
    pub account: Option<String>,
    pub role_arn: Option<String>,
    pub access_key_id: Option<String>,
    pub origin: String,
}

impl Seen {
    fn of(s: &SignIn) -> Self {
        Self {
            event_id: s.event_id.clone(),
            time: s.time,
            source_ip: s.source_ip.clone(),
            account: s.account.clone(),
            role_arn: s.role_arn.clone(),
            access_key_id: s.access_key_id.clone(),
            origin: s.origin.clone(),
        }
    }
}

fn instant<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&saml_time(*t))
}

/// One disagreement, with what was seen and what differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub assertion_id: Option<String>,
    pub user: Option<String>,
    pub seen: Seen,
    pub detail: String,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// AssumeRoleWithSAML events read (all providers, duplicates included).
    pub sign_ins: u64,
    /// The same eventID read again (overlapping inputs): not counted twice. Found among
    /// the reconciled provider's sign-ins, whose state is kept anyway.
    pub duplicate_events: u64,
    /// Sign-ins through providers not being reconciled (as read: no state is kept for
    /// them, so overlapping inputs count them again).
    pub other_provider: u64,
    /// Sign-ins AWS refused (an errorCode; no credentials issued).
    pub refused: u64,
    /// Accepted sign-ins through the reconciled providers.
    pub accepted: u64,
}

/// The matcher: feed it sign-ins in any order, then [`Reconciler::finish`]. Its memory
/// grows with the minted assertions, the alerts and the refused sign-ins, not with the
/// input: other events and other providers' sign-ins leave nothing behind.
pub struct Reconciler<'a> {
    minted: &'a Index,
    providers: HashSet<String>,
    /// `[aws.account_template]`: its provider in any account is reconciled too.
    template: Option<Template>,
    /// eventIDs of each used assertion's sign-ins (one, unless reused).
    events: HashMap<String, Vec<String>>,
    /// eventIDs of alerts and refusals about no minted assertion, for duplicates.
    unmatched: HashSet<String>,
    used: HashMap<String, Seen>,
    refused: Vec<(Option<String>, Seen, String)>,
    alerts: Vec<Alert>,
    counts: Counts,
}

/// The result: alerts, each minted assertion's first use, refused sign-ins.
#[derive(Debug)]
pub struct Report {
    pub alerts: Vec<Alert>,
    pub used: HashMap<String, Seen>,
    /// Sign-ins AWS refused: the assertion ID named, where, and the error code.
    pub refused: Vec<(Option<String>, Seen, String)>,
    pub counts: Counts,
}

impl Report {
    pub fn by_kind(&self) -> BTreeMap<AlertKind, usize> {
        let mut m: BTreeMap<AlertKind, usize> = AlertKind::ALL.iter().map(|k| (*k, 0)).collect();
        for a in &self.alerts {
            *m.entry(a.kind).or_default() += 1;
        }
        m
    }
}

impl<'a> Reconciler<'a> {
    pub fn new(minted: &'a Index, providers: impl IntoIterator<Item = String>) -> Self {
        Self {
            minted,
            providers: providers.into_iter().collect(),
            template: None,
            events: HashMap::new(),
            unmatched: HashSet::new(),
            used: HashMap::new(),
            refused: Vec::new(),
            alerts: Vec::new(),
            counts: Counts::default(),
        }
    }

    /// Also reconciles the sign-ins through the template's provider in every account.
    pub fn with_template(mut self, t: Option<Template>) -> Self {
        self.template = t;
        self
    }

    fn reconciled(&self, provider: &str) -> bool {
        self.providers.contains(provider) || self.template.as_ref().is_some_and(|t| t.has_provider(provider))
    }

    pub fn observe(&mut self, s: SignIn) {
        self.counts.sign_ins += 1;
        if !s.provider.as_deref().is_some_and(|p| self.reconciled(p)) {
            self.counts.other_provider += 1;
            return;
        }
        let minted = s.assertion_id.as_deref().and_then(|id| self.minted.get(id));
        if self.duplicate(&s, minted.is_some()) {
            self.counts.duplicate_events += 1;
            return;
        }
        if let Some(code) = &s.error_code {
            self.counts.refused += 1;
            self.refused.push((s.assertion_id.clone(), Seen::of(&s), code.clone()));
            return;
        }
        self.counts.accepted += 1;
        let seen = Seen::of(&s);
        let (Some(id), Some(m)) = (s.assertion_id.as_deref(), minted) else {
            let detail = match &s.assertion_id {
                None => "the event names no sAMLAssertionID".to_owned(),
                Some(id) => format!(
                    "assertion {id} is not in the assertion log: a forged token (stolen signing key) or another IdP using this provider"
                ),
            };
            return self.alert(AlertKind::NotMinted, s.assertion_id.as_deref(), None, seen, detail);
        };
        let user = Some(m.user.as_str());
        if let Some(first) = self.used.get(id) {
            let detail = format!(
                "first used at {} (event {}, {})",
                saml_time(first.time),
                first.event_id,
                first.origin
            );
            self.alert(AlertKind::Reused, Some(id), user, seen.clone(), detail);
        } else {
            self.used.insert(id.to_owned(), seen.clone());
        }
        for (kind, detail) in differences(m, &s) {
            self.alert(kind, Some(id), user, seen.clone(), detail);
        }
    }

    /// True when this eventID was read before (and remembers it otherwise). Refused
    /// sign-ins of a minted assertion are remembered with its accepted ones.
    fn duplicate(&mut self, s: &SignIn, minted: bool) -> bool {
        if s.event_id.is_empty() {
            return false;
        }
        match (&s.assertion_id, minted) {
            (Some(id), true) => {
                let ids = self.events.entry(id.clone()).or_default();
                if ids.contains(&s.event_id) {
                    return true;
                }
                ids.push(s.event_id.clone());
                false
            }
            _ => !self.unmatched.insert(s.event_id.clone()),
        }
    }

    fn alert(&mut self, kind: AlertKind, id: Option<&str>, user: Option<&str>, seen: Seen, detail: String) {
        self.alerts.push(Alert {
            kind,
            assertion_id: id.map(str::to_owned),
            user: user.map(str::to_owned),
            seen,
            detail,
        });
    }

    pub fn finish(self) -> Report {
        Report { alerts: self.alerts, used: self.used, refused: self.refused, counts: self.counts }
    }
}

/// Every way the sign-in differs from what was minted.
pub fn differences(m: &Minted, s: &SignIn) -> Vec<(AlertKind, String)> {
    let mut out = Vec::new();
    // A record written before tags were recorded has nothing to compare.
    if let Some(tags) = &m.tags {
        // The common case, equal, without building the description.
        let same = tags.len() == s.principal_tags.len()
            && tags.iter().all(|(k, v)| s.principal_tags.get(k).is_some_and(|w| v.matches(w)));
        if !same {
            out.push((AlertKind::TagsDiffer, tag_diff(tags, &s.principal_tags)));
        }
    }
    let mut identity = Vec::new();
    if let Some(want) = &m.role_session_name {
        if s.role_session_name.as_ref() != Some(want) {
            identity.push(format!("roleSessionName {:?}, minted {want:?}", s.role_session_name));
        }
    }
    if s.source_identity.as_deref() != Some(m.user.as_str()) {
        identity.push(format!("sourceIdentity {:?}, minted {:?}", s.source_identity, m.user));
    }
    if !identity.is_empty() {
        out.push((AlertKind::IdentityDiffers, identity.join("; ")));
    }
    if let Some(want) = m.session_duration {
        if s.duration != Some(u64::from(want)) {
            out.push((
                AlertKind::DurationDiffers,
                format!("durationSeconds {:?}, minted SessionDuration {want}", s.duration),
            ));
        }
    }
    if let Some(end) = m.not_on_or_after {
        if s.time >= end {
            out.push((
                AlertKind::AfterNotOnOrAfter,
                format!(
                    "signed in at {}, the assertion's NotOnOrAfter is {}",
                    saml_time(s.time),
                    saml_time(end)
                ),
            ));
        }
    }
    out
}

fn tag_diff(minted: &[(String, Released)], seen: &BTreeMap<String, String>) -> String {
    let mut parts = Vec::new();
    for (k, v) in minted {
        match seen.get(k) {
            None => parts.push(format!("{k}: minted {v}, absent")),
            Some(w) if !v.matches(w) => parts.push(format!("{k}: minted {v}, seen {w:?}")),
            Some(_) => {}
        }
    }
    for (k, w) in seen {
        if minted.binary_search_by(|(m, _)| m.as_str().cmp(k)).is_err() {
            parts.push(format!("{k}: not minted, seen {w:?}"));
        }
    }
    parts.join("; ")
}
