//! The per-mount counter of federated keys' token exchanges (kept in memory by each node, so it
//! starts at 0 with the plugin, as counters do).

use super::collect::{Family, Kind};

/// `ai_keys_federated_token_exchanges_total{outcome="success"|"failure"}`.
pub(crate) fn exchanges(mount: &str, succeeded: u64, failed: u64) -> Family<'_> {
    let mut family = Family::new(
        "ai_keys_federated_token_exchanges_total",
        Kind::Counter,
        "Token exchanges of federated keys at their providers by this node since the plugin started, label outcome (success, failure).",
        &["outcome"],
    );
    // Counts stay far below 2^53, where an f64 is exact.
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^53")]
    {
        family.add(mount, ["success"], succeeded as f64);
        family.add(mount, ["failure"], failed as f64);
    }
    family
}
