//! IAM documents generated from the same configuration that drives minting, so the two
//! cannot drift: the role's permission policy (one `ssm:StartSession` statement per
//! tag set k, every `ssm:resourceTag/<KEY>` equal to `${aws:PrincipalTag/<Name>k}`), the
//! trust policy for the SAML provider, and CloudFormation / Terraform wrappers.
//!
//! Sizes are counted as IAM counts them: characters, whitespace not counted. Managed
//! policies hold at most [`MANAGED_POLICY_LIMIT`]; statements that do not fit one are
//! split across several (a role takes at most [`MAX_ATTACHED`]).

pub mod revoke;
pub mod templates;

use serde_json::{json, Value};

use crate::core::sentinel::SENTINEL_PREFIX;
use crate::core::TagSpec;

/// IAM's managed policy size limit (characters, whitespace not counted).
pub const MANAGED_POLICY_LIMIT: usize = 6_144;
/// Managed policies one role can have attached (IAM's hard maximum).
pub const MAX_ATTACHED: usize = 20;
/// The inline policy sesame owns on the role (`revoke.rs`: the Deny on issued credentials).
pub const REVOKE_POLICY: &str = "sesame-revoked-sessions";
/// The Session Manager document the console and CLI use by default.
pub const SESSION_DOCUMENT: &str = "SSM-SessionManagerRunShell";

/// Where the policy applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// 12-digit account, or `*`.
    pub account: String,
    /// Region code, or `*`.
    pub region: String,
    /// `aws`, `aws-cn`, `aws-us-gov`, … (from the role ARN).
    pub partition: String,
}

/// Characters IAM counts: everything but whitespace.
pub fn iam_size(doc: &Value) -> usize {
    doc.to_string().chars().filter(|c| !c.is_whitespace()).count()
}

/// The `StartSession` statement for set `k` (1-based).
pub fn start_session_statement(spec: &TagSpec, k: usize, s: &Scope) -> Value {
    let mut cond = serde_json::Map::new();
    for (i, c) in spec.columns().iter().enumerate() {
        cond.insert(
            format!("ssm:resourceTag/{}", c.ec2_key.as_str()),
            Value::String(format!("${{aws:PrincipalTag/{}}}", spec.principal_name(k, i))),
        );
    }
    json!({
        "Sid": format!("StartSessionTagSet{k}"),
        "Effect": "Allow",
        "Action": "ssm:StartSession",
        "Resource": [
            format!("arn:{}:ec2:{}:{}:instance/*", s.partition, s.region, s.account),
            format!("arn:{}:ssm:{}:{}:managed-instance/*", s.partition, s.region, s.account),
        ],
        "Condition": {"StringEquals": cond},
    })
}

/// Defence in depth for set `k`: deny `ssm:StartSession` through the set when its
/// principal tags carry the sentinel (a closed set). The allow of set k can only match
/// an instance whose first tag equals set k's first principal tag, so this denies
/// exactly what a sentinel copied onto a real EC2 tag would allow, and nothing that an
/// open set of the same session allows. (A Deny on "any principal tag starts with the
/// prefix" over every instance would also shut the person's open sets.) `Resource` is
/// `*`: the document and other resources carry no such tag, so the condition is false
/// for them.
pub fn sentinel_deny_statement(spec: &TagSpec, k: usize) -> Value {
    let name = spec.principal_name(k, 0);
    let key = spec.columns().first().map(|c| c.ec2_key.as_str().to_owned()).unwrap_or_default();
    json!({
        "Sid": format!("DenyClosedTagSet{k}"),
        "Effect": "Deny",
        "Action": "ssm:StartSession",
        "Resource": "*",
        "Condition": {
            "StringLike": {format!("aws:PrincipalTag/{name}"): format!("{SENTINEL_PREFIX}*")},
            "StringEquals": {format!("ssm:resourceTag/{key}"): format!("${{aws:PrincipalTag/{name}}}")},
        },
    })
}

/// Statements every session needs besides the tag sets: its own sessions, the default
/// document, and the read-only calls the Session Manager console makes.
///
/// Own sessions: a federated principal's `${aws:userid}` is `ROLEID:RoleSessionName`
/// while its session IDs are `<RoleSessionName>-<hex>`, so a resource pattern
/// `session/${aws:userid}-*` never matches; AWS's documented condition for federated
/// users compares the session's `aws:ssmmessages:session-id` tag (the starter's user
/// ID) instead.
pub fn common_statements(s: &Scope) -> Vec<Value> {
    vec![
        json!({
            "Sid": "OwnSessionsOnly",
            "Effect": "Allow",
            "Action": ["ssm:TerminateSession", "ssm:ResumeSession"],
            "Resource": format!("arn:{}:ssm:{}:{}:session/*", s.partition, s.region, s.account),
            "Condition": {"StringLike": {"ssm:resourceTag/aws:ssmmessages:session-id": ["${aws:userid}"]}},
        }),
        json!({
            "Sid": "SessionManagerDocument",
            "Effect": "Allow",
            "Action": "ssm:StartSession",
            "Resource": format!("arn:{}:ssm:{}:{}:document/{SESSION_DOCUMENT}", s.partition, s.region, s.account),
        }),
        json!({
            "Sid": "ConsoleReadOnly",
            "Effect": "Allow",
            "Action": ["ssm:DescribeSessions", "ssm:GetConnectionStatus", "ssm:DescribeInstanceProperties", "ec2:DescribeInstances"],
            "Resource": "*",
        }),
    ]
}

/// The policy of the principal `sesame serve` runs as (its reaper): list sessions
/// (DescribeSessions takes no resource) and end them. Nothing else: it cannot start a
/// session, read a log or change IAM. (Session resources carry no tag sesame could
/// narrow to its own role's sessions before they exist, so TerminateSession is on
/// `session/*` of the account; every call it makes is in the audit log.) With
/// `revoke_for` (the role's ARN, for `aws.revoke_credentials`), also read, write and
/// delete sesame's one inline policy on that role, and nothing else in IAM.
pub fn reaper_policy(s: &Scope, revoke_for: Option<&str>) -> Value {
    let mut st = vec![
        json!({
            "Sid": "ListSessions",
            "Effect": "Allow",
            "Action": "ssm:DescribeSessions",
            "Resource": "*",
        }),
        json!({
            "Sid": "EndSessions",
            "Effect": "Allow",
            "Action": "ssm:TerminateSession",
            "Resource": format!("arn:{}:ssm:{}:{}:session/*", s.partition, s.region, s.account),
        }),
    ];
    if let Some(role) = revoke_for {
        st.push(json!({
            "Sid": "RevokeIssuedCredentials",
            "Effect": "Allow",
            "Action": ["iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
            "Resource": role,
            "Condition": {"StringEquals": {"iam:PolicyName": REVOKE_POLICY}},
        }));
    }
    policy(st)
}

fn policy(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "one statement is {size} characters, above IAM's managed policy limit of {MANAGED_POLICY_LIMIT}"
    )]
    StatementTooLarge { size: usize },
    #[error("the permission statements need {needed} managed policies; a role can have at most {MAX_ATTACHED} attached — reduce tags.max_sets or the tag columns")]
    TooManyPolicies { needed: usize },
}

/// The permission policy, split into as few managed policies as fit IAM's size limit.
/// The common statements go into the first.
pub fn permission_policies(spec: &TagSpec, s: &Scope) -> Result<Vec<Value>, PolicyError> {
    let mut docs: Vec<Vec<Value>> = vec![common_statements(s)];
    let statements = (1..=spec.max_sets())
        .flat_map(|k| [start_session_statement(spec, k, s), sentinel_deny_statement(spec, k)]);
    for st in statements {
        let alone = iam_size(&policy(vec![st.clone()]));
        if alone > MANAGED_POLICY_LIMIT {
            return Err(PolicyError::StatementTooLarge { size: alone });
        }
        let fits = docs.last().is_some_and(|d| {
            let mut t = d.clone();
            t.push(st.clone());
            iam_size(&policy(t)) <= MANAGED_POLICY_LIMIT
        });
        match docs.last_mut() {
            Some(d) if fits => d.push(st),
            _ => docs.push(vec![st]),
        }
    }
    if docs.len() > MAX_ATTACHED {
        return Err(PolicyError::TooManyPolicies { needed: docs.len() });
    }
    Ok(docs.into_iter().map(policy).collect())
}

/// The role's trust policy: the SAML provider may assume it, tag the session with the
/// principal tags sesame emits (and no others), and set the source identity, for
/// responses addressed to the configured ACS URL.
pub fn trust_policy(spec: &TagSpec, provider_arn: &str, acs_url: &str) -> Value {
    let mut keys = Vec::new();
    for k in 1..=spec.max_sets() {
        for i in 0..spec.columns().len() {
            keys.push(spec.principal_name(k, i));
        }
    }
    let aud = json!({"StringEquals": {"SAML:aud": acs_url}});
    policy(vec![
        json!({
            "Sid": "AssumeWithSesameSaml",
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": ["sts:AssumeRoleWithSAML", "sts:SetSourceIdentity"],
            "Condition": aud,
        }),
        json!({
            "Sid": "OnlySesamePrincipalTags",
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:TagSession",
            "Condition": {
                "StringEquals": {"SAML:aud": acs_url},
                "ForAllValues:StringEquals": {"aws:TagKeys": keys},
            },
        }),
    ])
}
