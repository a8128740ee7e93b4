//! One audit record: a JSON object on one line. Field order is fixed by this struct;
//! the chain hashes the exact line bytes, so auditors never need to re-serialize.
//! Format: docs/audit-format.md. Never the assertion itself, never key material.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::decision::SetStatus;
use crate::core::text::saml_time;
use crate::core::Decision;

/// Current record format version: 2 since checkpoints sign every field (format 1
/// checkpoints signed replica, seq and prev only). A chain's version never goes back.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One request's outcome: minted, refused or failed.
    Decision,
    /// A signature over the chain head.
    Checkpoint,
    /// Written at start-up when a torn partial record was set aside.
    Recovery,
    /// A grant recorded, revoked, or refused.
    Grant,
    /// A caller turned away: no valid client certificate, or no role for the route.
    Access,
    /// Old files removed up to a checkpoint (`sesame audit prune`), declared here first.
    Prune,
    /// The session reaper: a session terminated (confirmed), a termination that failed,
    /// or a decision's sessions all confirmed ended (`sessions_reaped`).
    Session,
    /// A notice to people (a signed webhook): delivered, or failed after its attempts.
    Notify,
    /// A firecall (break-glass) grant opened, refused, or reviewed.
    Firecall,
}

/// A grant change: which grant, for what, approved by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub entitlement: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
}

/// Per tag set: entitlement, status, window and reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRecord {
    pub number: usize,
    pub entitlement: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_open: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The `PrincipalTag:<key>` attributes the set released: what CloudTrail's
    /// `principalTags` shows at sign-in. An open set's values as sent; a closed set's
    /// as `sha256:<hex>` of the sentinel, never the sentinel itself (the log is read by
    /// more people than the policy's Deny trusts). Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// What a caller submits; the writer adds `v`, `seq`, `prev` and `replica`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Entry {
    pub time: String,
    /// minted | minted_some_closed | minted_all_closed | refused | failed (decisions only)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// The RoleSessionName the response carries (a session ID starts with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_session_name: Option<String>,
    /// Decisions: the role ARNs the Role attribute names (one per account; several
    /// when the console's role picker was asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Session records: the Session Manager session concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Session records: the assertion ID of the decision whose sessions these are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// SHA-256 (hex) of the exact response bytes released (the XML, before base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_duration: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_on_or_after: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<SetRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<String>,
    /// Grant records: the grant concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantRecord>,
    /// Groups that matched a mapping rule but yielded values AWS would reject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Access records: the source address the denials came from (`tls-handshake` for
    /// certificates the handshake rejected, `other` when too many sources were denied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Access records: how many requests this record stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Checkpoints: base64 RSA-SHA256 signature over the checkpoint message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Checkpoints: hex SHA-256 of the signing certificate (DER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Prune records: the last seq removed (a checkpoint that ended its file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_through: Option<u64>,
    /// Prune records: hex SHA-256 of that record, the `prev` the first kept record carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_head: Option<String>,
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub v: u32,
    pub seq: u64,
    /// Hex SHA-256 of the previous record's line (without its newline); 64 zeros first.
    pub prev: String,
    pub replica: String,
    pub kind: Kind,
    #[serde(flatten)]
    pub entry: Entry,
}

/// How a closed set's tag value is recorded: `sha256:` and the hex SHA-256 of the value.
pub fn sentinel_digest(value: &str) -> String {
    format!("sha256:{}", crate::core::text::hex(&openssl::sha::sha256(value.as_bytes())))
}

/// The sets of a decision as audit records.
pub fn sets(d: &Decision) -> Vec<SetRecord> {
    d.sets
        .iter()
        .map(|s| {
            let mut r = SetRecord {
                number: s.number,
                entitlement: s.group.as_str().to_owned(),
                status: if s.is_open() { "open" } else { "closed" }.to_owned(),
                reason: None,
                window_start: None,
                window_end: None,
                next_open: None,
                ticket: s.ticket.clone(),
                tags: s
                    .tags
                    .iter()
                    .map(|(k, v)| {
                        let v = if s.is_open() { v.clone() } else { sentinel_digest(v) };
                        (k.clone(), v)
                    })
                    .collect(),
            };
            match &s.status {
                SetStatus::Open { window } => {
                    r.window_start = Some(saml_time(window.start));
                    r.window_end = Some(saml_time(window.end));
                }
                SetStatus::Closed { reason, next_open } => {
                    r.reason = Some(reason.code().to_owned());
                    r.next_open = next_open.map(saml_time);
                }
            }
            r
        })
        .collect()
}

/// The outcome word for a minted decision.
pub fn outcome(d: &Decision) -> &'static str {
    match (d.open_sets(), d.sets.len()) {
        (open, all) if open == all => "minted",
        (0, _) => "minted_all_closed",
        _ => "minted_some_closed",
    }
}
