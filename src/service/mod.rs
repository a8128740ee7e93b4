//! The use cases, shared by the CLI and the HTTP edge: the launcher's view of a
//! person's access (`access.rs`), minting one request
//! (`mint.rs`, DESIGN steps 2-8, with the receipt rule in its types) and recording
//! approved windows (`grants.rs`: validation, the store, an audit record for every
//! change), and the session reaper (`reaper.rs`: end the sessions a decision allowed
//! when its window ends or its grant is revoked). Generic over the adapter traits; no
//! edge, no concrete adapter, no clock.

pub mod access;
pub mod firecall;
pub mod grants;
pub mod mint;
pub mod reaper;
pub mod revoke_creds;
