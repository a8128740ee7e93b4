//! The pure decision core: who may reach which instance, when, and with which tags.
//!
//! Invariants (checked by `tests/it/tidy.rs` and the property tests):
//! - no I/O, no clock, no randomness: `now` and the nonce are arguments;
//! - every value that can reach a session tag has passed [`tags::TagValue`]'s rule;
//! - a refusal is a [`decision::Decision`] value, not an error.

pub mod accounts;
pub mod config_query;
pub mod decide;
pub mod decision;
pub mod dn;
pub mod ids;
pub mod mapping;
pub mod nameid;
pub mod reap;
pub mod sentinel;
pub mod session_name;
pub mod tags;
pub mod text;
pub mod window;

pub use decide::{decide, Entitlement, Policy};
pub use decision::{Decision, Refusal, SetOutcome, SetStatus};
pub use ids::{GroupName, InputError, InstanceId, Region, Request, UserName};
pub use mapping::{DirGroup, Mapping};
pub use nameid::NameIdFormat;
pub use sentinel::Nonce;
pub use session_name::{role_session_name, session_name_of, SessionNaming};
pub use tags::{TagKey, TagSpec, TagValue};
pub use window::{AccessRule, Grant, Interval, Schedule};
