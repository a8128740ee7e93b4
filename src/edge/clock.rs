//! The one place that reads the system clock and the random number generator.
//!
//! Everything else takes `now` and a [`Nonce`] as arguments, so tests and
//! `sesame mint --at` can pin them.

use chrono::{DateTime, Utc};
use rand::RngCore;

use crate::core::Nonce;

/// The current instant, truncated to whole seconds (SAML times carry no fractions here).
#[allow(clippy::disallowed_methods)]
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Fresh randomness for one mint (sentinel and XML IDs), from the OS-seeded CSPRNG.
#[allow(clippy::disallowed_methods)]
pub fn nonce() -> Nonce {
    let mut b = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut b);
    Nonce::from_bytes(b)
}
