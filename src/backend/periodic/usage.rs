//! Usage-aware revocation, the engine's part (on the periodic tick): shortly before a `previous`
//! version's grace window ends, ask its provider whether the key is still used, and postpone the
//! end while it is (the decision is [`crate::rotation::usage`]'s).
//!
//! Ordering with the durable revoke intent: a postponement only moves `grace_expires_time` of a
//! version that is still inside its window, in the one write that saves the record; no intent
//! exists yet for it (intents are written, before the record, only by the write that retires a
//! version, [`Locked::save`]). A crash before that write leaves the old end, and the version is
//! retired at it with its intent as usual; a crash after it leaves the new end. A window that
//! ended while the provider was being asked is never reopened. So no write order can leave a
//! retired key without its intent, nor revoke a key whose extension was stored.

use std::sync::Arc;

use chrono::Utc;

use crate::backend::policy::Periods;
use crate::backend::provider_ops;
use crate::backend::shared::Shared;
use crate::backend::view;
use crate::backend::workflows::Locked;
use crate::framework::{Error, Storage};
use crate::providers::{KeyUsage, Providers};
use crate::rotation::{Observation, UsageDecision};

/// Checks the key's retiring version if its grace ends soon; whether the record changed.
pub(super) async fn check(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    locked: &mut Locked,
    periods: Periods,
) -> Result<bool, Error> {
    let policy = periods.usage_policy();
    let now = Utc::now();
    let key = locked.key_ref();
    let Some(v) = key.versions.usage_check_due(now, policy) else {
        return Ok(false);
    };
    // Only a key the engine can show to be this key's is looked up (as for revoking it).
    let Some(id) = v
        .provider_key_id
        .clone()
        .filter(|_| v.engine_created || v.provider_key_verified)
    else {
        return Ok(false);
    };
    let Some(provider) = v.provider.clone().or_else(|| key.provider.clone()) else {
        return Ok(false);
    };
    let number = v.number;
    let observation = match provider_ops::load(storage, &provider).await? {
        None => Observation::Unavailable(format!("provider {provider:?} is not configured")),
        Some(cfg) if !Providers::reports_usage(&cfg) => return Ok(false),
        Some(cfg) => match shared.providers.last_used(&cfg, &id).await {
            Ok(KeyUsage::LastUsed(t)) => Observation::LastUsed(t),
            Ok(KeyUsage::Spend(usd)) => Observation::Spend(usd),
            Err(e) => Observation::Unavailable(e.to_string()),
        },
    };
    let now = Utc::now();
    if locked.key_ref().versions.previous_in_grace(now).is_none() {
        // The window ended while the provider was asked: it is never reopened.
        return Ok(false);
    }
    let before = locked.key_ref().versions.get(number).cloned();
    let decision = locked
        .key_ref()
        .versions
        .judge_usage(number, &observation, policy, now);
    let outcome = locked
        .key()
        .versions
        .apply_usage(number, &observation, &decision, now);
    let name = locked.key_ref().name.clone();
    match &decision {
        UsageDecision::Extend { until, .. } => {
            tracing::warn!(key = %name, version = number, until = %view::time(*until), "previous version still in use at the end of its grace window: revocation postponed");
            locked.key().stats.grace_extensions += 1;
            locked.record(&outcome.changes, Some("in_use"));
        }
        UsageDecision::Keep { kind, .. } => {
            if let Some(note) = &outcome.note {
                tracing::info!(key = %name, version = number, outcome = kind, "usage checked at the end of a grace window; following the schedule");
                locked.note("usage_checked", Some(number), Some(kind), note);
            }
        }
    }
    // A repeated outcome with nothing new to keep is not written again.
    Ok(locked.key_ref().versions.get(number) != before.as_ref())
}
