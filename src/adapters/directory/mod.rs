//! Step 3's sources: LDAP / Active Directory (`ldap.rs`, filters rendered only by
//! `filter.rs` with RFC 4515 escaping) and the embedded file directory (`file.rs`).

pub mod file;
pub mod filter;
pub mod ldap;
