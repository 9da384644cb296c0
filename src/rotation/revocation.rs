//! A retired version's revocation at its provider: requested in the same write that retires the
//! version, confirmed when the provider answers, and shown as it is (pending with the last error,
//! or confirmed with its time) until then.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The provider-side revocation of one retired version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRevocation {
    /// The provider configuration the key lives at (the one that created or verified it).
    pub provider: String,
    /// The provider's id of the key.
    pub provider_key_id: String,
    /// When the engine decided the key must die at the provider.
    pub requested_time: DateTime<Utc>,
    /// When the provider confirmed it; `None` while pending.
    #[serde(default)]
    pub confirmed_time: Option<DateTime<Utc>>,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// The last failure (never key material), while pending.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The durable intent (WAL id) that keeps the revocation alive across crashes.
    #[serde(default)]
    pub intent_id: Option<String>,
}

impl ProviderRevocation {
    /// A revocation requested at `now`, not yet attempted.
    pub fn requested(provider: &str, provider_key_id: &str, now: DateTime<Utc>) -> Self {
        ProviderRevocation {
            provider: provider.to_string(),
            provider_key_id: provider_key_id.to_string(),
            requested_time: now,
            confirmed_time: None,
            attempts: 0,
            last_error: None,
            intent_id: None,
        }
    }

    /// Whether the provider has not confirmed it yet.
    pub fn is_pending(&self) -> bool {
        self.confirmed_time.is_none()
    }

    /// `pending` or `confirmed`, as reads show it.
    pub fn status(&self) -> &'static str {
        if self.is_pending() {
            "pending"
        } else {
            "confirmed"
        }
    }

    /// Records the provider's confirmation.
    pub fn confirm(&mut self, now: DateTime<Utc>) {
        self.confirmed_time = Some(now);
        self.last_error = None;
        self.intent_id = None;
    }

    /// Records a failed attempt.
    pub fn failed(&mut self, error: &str) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_error = Some(error.chars().take(512).collect());
    }
}

impl super::key::KeyVersions {
    /// The versions that were live (`pending`, `current`, `previous`) in `before` and are not in
    /// `self` (retired, or gone), whose key the engine must kill at its provider (owned: it
    /// created the key or verified the provider's record of it, and knows the provider's id),
    /// yet carry no revocation of any status. A record with any is one no write may store: it
    /// would leave a key alive at the provider with nothing to kill it.
    pub fn unrevoked_retirements(&self, before: &super::key::KeyVersions) -> Vec<u32> {
        before
            .versions
            .values()
            .filter(|old| old.state.keeps_value())
            .filter(|old| {
                let now = self.get(old.number);
                if now.is_some_and(|v| v.state.keeps_value()) {
                    return false;
                }
                // What decides ownership is the version as it is stored now (or, when it is
                // gone, as it was).
                let v = now.unwrap_or(old);
                (v.engine_created || v.provider_key_verified)
                    && v.provider_key_id.is_some()
                    && v.provider_revocation.is_none()
            })
            .map(|v| v.number)
            .collect()
    }
}
