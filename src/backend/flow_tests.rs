//! End-to-end flows through the engine on in-memory storage: rotations, grace windows, the
//! periodic tick, history, reports, refusals that must change nothing, and concurrency.

mod cache;
mod concurrency;
mod due_index;
mod grace;
mod history;
mod intents;
mod records;
mod refusals;
mod report_digests;
mod reports;
mod revocation_timing;
mod rotation;

use serde_json::{json, Value};

use super::testing::Harness;

/// The value every flow starts from (version 1).
pub(crate) const OLD: &str = "sk-test-OLDVALUE-0123456789abcdef";
/// The value staged or rotated in (version 2).
const NEW: &str = "sk-test-NEWVALUE-fedcba9876543210";

/// A harness with key `k` created from [`OLD`].
async fn with_key() -> Harness {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    h
}

/// `verify/k` for `value`.
async fn verify(h: &Harness, value: &str) -> Value {
    h.write("verify/k", json!({ "value": value }))
        .await
        .unwrap_or_else(|e| panic!("verify: {e}"))
}

/// The state of version `n` of key `k` as `keys/k` shows it.
async fn state(h: &Harness, n: u32) -> Value {
    h.read("keys/k").await["versions"][n.to_string()]["state"].clone()
}
