//! `aws.role_arn` / `aws.provider_arn` (the home account), `[[aws.account]]` entries and
//! `[aws.account_template]`: every account's role/provider pair, checked — each ARN by
//! its rule, each in the account it is listed for, all in the home account's partition
//! (one metadata document serves every provider) — into a [`core::accounts::Accounts`].

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::problems::Problems;
use crate::core::accounts::{
    is_account_id, Accounts, RolePair, Template, ACCOUNT_ID_RULE, ACCOUNT_PLACEHOLDER,
};

pub const ROLE_ARN_RULE: &str = "must be arn:<partition>:iam::<12-digit account>:role/<name>";
pub const PROVIDER_ARN_RULE: &str = "must be arn:<partition>:iam::<12-digit account>:saml-provider/<name>";

#[allow(clippy::expect_used)] // literal patterns
static ROLE_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^arn:aws(-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?:iam::\d{12}:role/[A-Za-z0-9_+=,.@/-]+$",
    )
    .expect("literal")
});
#[allow(clippy::expect_used)] // literal patterns
static PROVIDER_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^arn:aws(-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?:iam::\d{12}:saml-provider/[A-Za-z0-9_.-]+$",
    )
    .expect("literal")
});

/// `[[aws.account]]`: one more account. Without ARNs, the template's apply to it.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    pub id: Option<String>,
    pub role_arn: Option<String>,
    pub provider_arn: Option<String>,
}

/// `[aws.account_template]`: ARNs with `{account}` where the account ID goes.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    pub role_arn: Option<String>,
    pub provider_arn: Option<String>,
}

fn part(arn: &str, i: usize) -> &str {
    arn.split(':').nth(i).unwrap_or_default()
}

/// One ARN: its rule, its account and the partition of the home account.
fn arn(p: &mut Problems, at: &str, v: &str, account: &str, partition: Option<&str>, role: bool) -> bool {
    let (re, rule) = if role { (&*ROLE_ARN, ROLE_ARN_RULE) } else { (&*PROVIDER_ARN, PROVIDER_ARN_RULE) };
    if !re.is_match(v) {
        p.push(at, format!("{rule} (got {v:?})"));
        return false;
    }
    if part(v, 4) != account {
        p.push(at, format!("must be in account {account} (got {v:?})"));
        return false;
    }
    if let Some(want) = partition.filter(|w| part(v, 1) != *w) {
        p.push(at, format!("must be in the partition of aws.role_arn ({want}): one metadata document serves every account (got {v:?})"));
        return false;
    }
    true
}

/// The home pair from `aws.role_arn` / `aws.provider_arn` (same account).
fn home(p: &mut Problems, role_arn: Option<String>, provider_arn: Option<String>) -> RolePair {
    let role_arn = p.required("aws.role_arn", role_arn);
    let provider_arn = p.required("aws.provider_arn", provider_arn);
    let mut account = String::new();
    if !role_arn.is_empty() {
        if ROLE_ARN.is_match(&role_arn) {
            account = part(&role_arn, 4).to_owned();
        } else {
            p.push("aws.role_arn", format!("{ROLE_ARN_RULE} (got {role_arn:?})"));
        }
    }
    if !provider_arn.is_empty() {
        if !PROVIDER_ARN.is_match(&provider_arn) {
            p.push("aws.provider_arn", format!("{PROVIDER_ARN_RULE} (got {provider_arn:?})"));
        } else if !account.is_empty() && part(&provider_arn, 4) != account {
            p.push("aws.provider_arn", "must be in the same account as aws.role_arn");
        }
    }
    RolePair { account, role_arn, provider_arn }
}

fn template(p: &mut Problems, t: RawTemplate, partition: &str) -> Option<Template> {
    let role_arn = p.required("aws.account_template.role_arn", t.role_arn);
    let provider_arn = p.required("aws.account_template.provider_arn", t.provider_arn);
    let mut ok = true;
    for (at, v, role) in [
        ("aws.account_template.role_arn", &role_arn, true),
        ("aws.account_template.provider_arn", &provider_arn, false),
    ] {
        if v.is_empty() {
            ok = false;
            continue;
        }
        if v.matches(ACCOUNT_PLACEHOLDER).count() != 1 || part(v, 4) != ACCOUNT_PLACEHOLDER {
            p.push(at, format!("must carry {ACCOUNT_PLACEHOLDER} once, as the account: arn:{partition}:iam::{ACCOUNT_PLACEHOLDER}:… (got {v:?})"));
            ok = false;
            continue;
        }
        let sample = v.replace(ACCOUNT_PLACEHOLDER, "000000000000");
        ok &= arn(p, at, &sample, "000000000000", Some(partition), role);
    }
    ok.then_some(Template { role_arn, provider_arn })
}

/// Every account's pair; problems name `aws.account[i].field`.
pub fn accounts(
    p: &mut Problems,
    role_arn: Option<String>,
    provider_arn: Option<String>,
    entries: Vec<RawAccount>,
    raw_template: Option<RawTemplate>,
) -> Accounts {
    let home = home(p, role_arn, provider_arn);
    let partition = part(&home.role_arn, 1).to_owned();
    let template = raw_template.and_then(|t| template(p, t, &partition));
    let mut listed = BTreeMap::new();
    if !home.account.is_empty() {
        listed.insert(home.account.clone(), home.clone());
    }
    for (i, e) in entries.into_iter().enumerate() {
        let at = |f: &str| format!("aws.account[{i}].{f}");
        let id = p.required(&at("id"), e.id);
        if id.is_empty() {
            continue;
        }
        if !is_account_id(&id) {
            p.push(at("id"), format!("{ACCOUNT_ID_RULE} (got {id:?})"));
            continue;
        }
        if id == home.account {
            p.push(at("id"), format!("{id} is aws.role_arn's account, served already: remove the entry"));
            continue;
        }
        if listed.contains_key(&id) {
            p.push(at("id"), format!("{id} is listed twice"));
            continue;
        }
        let pair = match (e.role_arn, e.provider_arn, &template) {
            (Some(r), Some(pv), _) => {
                let ok = arn(p, &at("role_arn"), &r, &id, Some(&partition), true)
                    & arn(p, &at("provider_arn"), &pv, &id, Some(&partition), false);
                ok.then(|| RolePair { account: id.clone(), role_arn: r, provider_arn: pv })
            }
            (None, None, Some(t)) => Some(t.pair(&id)),
            (None, None, None) => {
                p.push(
                    at("role_arn"),
                    "role_arn and provider_arn are required without [aws.account_template]",
                );
                None
            }
            (Some(_), None, _) | (None, Some(_), _) => {
                p.push(at("role_arn"), "give both role_arn and provider_arn, or neither (the template's)");
                None
            }
        };
        if let Some(pair) = pair {
            listed.insert(id, pair);
        }
    }
    Accounts { home, listed, template }
}
