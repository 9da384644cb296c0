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
    /// Where the key lives (the version's origin): the revocation goes only to a provider
    /// configuration at that place. `None` for a version whose origin was never recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<super::origin::Origin>,
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
            origin: None,
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
