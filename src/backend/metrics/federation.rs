//! The per-mount counter of federated keys' token exchanges (kept in memory by each node, so it
//! starts at 0 with the plugin, as counters do).

use std::collections::BTreeMap;

use super::collect::{Family, Kind};
use crate::backend::shared::ExchangeStats;

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

/// `ai_keys_federated_key_token_exchanges_total{key, outcome="success"|"bad_key"|
/// "provider_unavailable"|...}`: each federated key's exchanges by this node since it started.
pub(crate) fn key_exchanges<'a>(
    mount: &'a str,
    stats: &'a BTreeMap<String, ExchangeStats>,
) -> Family<'a> {
    let mut family = Family::new(
        "ai_keys_federated_key_token_exchanges_total",
        Kind::Counter,
        "Token exchanges of each federated key at its provider by this node since the plugin started, labels key and outcome (success, bad_key, provider_unavailable).",
        &["key", "outcome"],
    );
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^53")]
    for (key, s) in stats {
        family.add(mount, [key.as_str(), "success"], s.ok as f64);
        for outcome in ["bad_key", "provider_unavailable"] {
            let n = s.failed.get(outcome).copied().unwrap_or(0);
            family.add(mount, [key.as_str(), outcome], n as f64);
        }
        for (outcome, n) in s
            .failed
            .iter()
            .filter(|(o, _)| !matches!(**o, "bad_key" | "provider_unavailable"))
        {
            family.add(mount, [key.as_str(), *outcome], *n as f64);
        }
    }
    family
}
