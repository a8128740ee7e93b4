//! Implementations of [`super::Notifier`]: `webhook.rs`, signed HTTP POSTs.

pub mod webhook;
