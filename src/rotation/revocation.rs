//! A retired version's revocation at its provider: requested in the same write that retires the
//! version, confirmed when the provider answers, and shown as it is (pending with the last error,
//! or confirmed with its time) until then.
//!
//! A retired version whose key the engine does not own (an imported key whose ownership no
//! possession proof showed, or a discarded version the engine did not create) is never revoked
//! by the engine: its revocation is `manual` ([`ManualRevocation`]), with no intent, until an
//! operator records that they revoked it by hand (`acknowledged`).

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
    /// Set when the engine does not own the key and leaves its revocation to a person
    /// (`provider_key_id` is then empty when the id is not known). Never pending, never retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualRevocation>,
}

/// A revocation the engine leaves to a person, and whether one said it is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualRevocation {
    /// Why the engine does not revoke this key itself (no key material).
    pub reason: String,
    /// Who recorded that they revoked it by hand, when; `None` while nobody has.
    #[serde(default)]
    pub acknowledged: Option<Acknowledgement>,
}

/// An operator's record that they revoked a key by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// When it was recorded.
    pub time: DateTime<Utc>,
    /// Who recorded it (the history's actor spelling).
    pub actor: String,
    /// Their short note, if any.
    #[serde(default)]
    pub reason: Option<String>,
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
            manual: None,
        }
    }

    /// A revocation left to a person at `now`: the engine does not own the key (`reason`), so
    /// it writes no intent and never calls the provider for it.
    pub fn manual(
        provider: &str,
        provider_key_id: Option<&str>,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Self {
        ProviderRevocation {
            manual: Some(ManualRevocation {
                reason: reason.to_string(),
                acknowledged: None,
            }),
            ..Self::requested(provider, provider_key_id.unwrap_or_default(), now)
        }
    }

    /// Whether the provider has not confirmed it yet (a manual revocation is never pending: the
    /// engine does not call the provider for it).
    pub fn is_pending(&self) -> bool {
        self.confirmed_time.is_none() && self.manual.is_none()
    }

    /// Whether it is left to a person and nobody has recorded doing it yet.
    pub fn is_unacknowledged_manual(&self) -> bool {
        self.manual
            .as_ref()
            .is_some_and(|m| m.acknowledged.is_none())
    }

    /// `pending`, `confirmed`, `manual` or `acknowledged`, as reads show it.
    pub fn status(&self) -> &'static str {
        match &self.manual {
            Some(m) if m.acknowledged.is_some() => "acknowledged",
            Some(_) => "manual",
            None if self.is_pending() => "pending",
            None => "confirmed",
        }
    }

    /// Records that a person revoked the key by hand. Refused (with why) unless the revocation
    /// is manual and not acknowledged yet.
    pub fn acknowledge(
        &mut self,
        now: DateTime<Utc>,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<(), String> {
        let Some(manual) = self.manual.as_mut() else {
            return Err(format!(
                "its revocation is {}, not manual: the engine revokes it itself",
                self.status()
            ));
        };
        if let Some(a) = &manual.acknowledged {
            return Err(format!(
                "its manual revocation was already acknowledged at {} by {}",
                a.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                a.actor
            ));
        }
        manual.acknowledged = Some(Acknowledgement {
            time: now,
            actor: actor.to_string(),
            reason: reason.map(str::to_string),
        });
        Ok(())
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
                v.owned() && v.provider_key_id.is_some() && v.provider_revocation.is_none()
            })
            .map(|v| v.number)
            .collect()
    }
}
