//! The AWS accounts sesame signs in to, and which role/provider pair the Role attribute
//! names for a request: the instance's account when the inventory says where it is, the
//! caller's `account_id` only where the inventory is silent, else aws.role_arn's (the
//! home account). Pure: configuration builds an [`Accounts`] after checking every ARN.
//!
//! The rules (each has a property test in `tests/it/accounts.rs`):
//! - an account is served when it is the home account, has an `[[aws.account]]` entry,
//!   or a template is configured (then every account the inventory reports);
//! - the inventory's account wins: an `account_id` that differs is refused, never used;
//! - an instance in an account that is not served is refused (its Role could not reach it);
//! - the role picker names served accounts only, the instance's first ([`Accounts::picker`]).

use std::collections::{BTreeMap, BTreeSet};

use super::ids::InputError;

/// One account's pair, as the Role attribute writes it: `role-arn,provider-arn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePair {
    pub account: String,
    pub role_arn: String,
    pub provider_arn: String,
}

impl RolePair {
    /// The Role attribute's value (AWS-FACTS.md: "role-arn,provider-arn").
    pub fn value(&self) -> String {
        format!("{},{}", self.role_arn, self.provider_arn)
    }
}

/// The placeholder a template's ARNs carry where the account goes.
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

/// Role and provider ARNs with [`ACCOUNT_PLACEHOLDER`] in the account's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub role_arn: String,
    pub provider_arn: String,
}

impl Template {
    pub fn pair(&self, account: &str) -> RolePair {
        RolePair {
            account: account.to_owned(),
            role_arn: self.role_arn.replace(ACCOUNT_PLACEHOLDER, account),
            provider_arn: self.provider_arn.replace(ACCOUNT_PLACEHOLDER, account),
        }
    }

    /// Whether `provider_arn` is this template's provider in some account.
    pub fn has_provider(&self, provider_arn: &str) -> bool {
        provider_arn
            .split(':')
            .nth(4)
            .filter(|a| is_account_id(a))
            .is_some_and(|a| self.pair(a).provider_arn == provider_arn)
    }
}

/// Every account sesame serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts {
    /// aws.role_arn / aws.provider_arn: used when nothing names another account.
    pub home: RolePair,
    /// `[[aws.account]]` entries and the home account, by account ID.
    pub listed: BTreeMap<String, RolePair>,
    /// `[aws.account_template]`: the pair of any other account.
    pub template: Option<Template>,
}

/// A 12-digit AWS account ID.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

pub const ACCOUNT_ID_RULE: &str = "must be a 12-digit AWS account ID";

impl Accounts {
    /// One account: the home pair only.
    pub fn single(home: RolePair) -> Self {
        let listed = BTreeMap::from([(home.account.clone(), home.clone())]);
        Self { home, listed, template: None }
    }

    /// More than the home account can be reached.
    pub fn many(&self) -> bool {
        self.listed.len() > 1 || self.template.is_some()
    }

    /// The pair of `account`, when it is served.
    pub fn pair(&self, account: &str) -> Option<RolePair> {
        if let Some(p) = self.listed.get(account) {
            return Some(p.clone());
        }
        self.template.as_ref().filter(|_| is_account_id(account)).map(|t| t.pair(account))
    }

    /// Whether `provider_arn` is one of the served accounts' providers.
    pub fn has_provider(&self, provider_arn: &str) -> bool {
        self.listed.values().any(|p| p.provider_arn == provider_arn)
            || self.template.as_ref().is_some_and(|t| t.has_provider(provider_arn))
    }

    /// The console role picker's pairs, given `reached`: the accounts in which the
    /// person's open sets cover instances (as the inventory says). The instance's
    /// account (`pair`) first, then every other served account in ID order; accounts not
    /// served are left out. When none is left — no open set, or sets that reach only
    /// accounts not served — the instance's account alone.
    pub fn picker(&self, pair: RolePair, mut reached: BTreeSet<String>) -> Vec<RolePair> {
        let mine = reached.remove(&pair.account);
        let others: Vec<RolePair> = reached.iter().filter_map(|a| self.pair(a)).collect();
        if mine || others.is_empty() {
            std::iter::once(pair).chain(others).collect()
        } else {
            others
        }
    }

    /// The pair for one instance. `located`: the account the inventory places it in
    /// (`None` when the inventory does not say); `requested`: the caller's `account_id`.
    pub fn choose(
        &self,
        instance: &str,
        located: Option<&str>,
        requested: Option<&str>,
    ) -> Result<RolePair, InputError> {
        if let Some(r) = requested {
            if !is_account_id(r) {
                return Err(InputError::new("account_id", r, ACCOUNT_ID_RULE));
            }
        }
        match (located, requested) {
            (Some(at), Some(r)) if at != r => Err(InputError::new(
                "account_id",
                &format!("{r} (the inventory places {instance} in {at})"),
                "must be the account the inventory places the instance in",
            )),
            (Some(at), _) => self.pair(at).ok_or_else(|| {
                InputError::new(
                    "instance_id",
                    &format!("{instance} in account {at}"),
                    "must be in an account sesame serves ([[aws.account]] or aws.account_template)",
                )
            }),
            (None, Some(r)) => self.pair(r).ok_or_else(|| {
                InputError::new(
                    "account_id",
                    r,
                    "must be an account sesame serves ([[aws.account]] or aws.account_template)",
                )
            }),
            (None, None) => Ok(self.home.clone()),
        }
    }
}
