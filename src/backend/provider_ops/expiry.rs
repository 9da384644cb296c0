//! Provider-enforced grace ends: where a provider can change a live key's expiry (OpenAI's
//! "Update project API key", `expires_in_seconds`), a retired key the engine owns is set to
//! expire at the provider at its grace end, and every later move of that end (usage-aware
//! postponement, `extend/`, a rollback giving it back a full lifetime) moves it too. The tick's
//! revocation at the grace end stays: the provider's expiry is the backstop that holds while
//! the engine cannot act (a server stopped across the grace end).
//!
//! Each change goes through an intent ([`ExpiryIntent`], WAL kind [`WAL_EXPIRY`]) written
//! before the record that moves the end, like a revocation: a crash between the record and the
//! provider call is settled by recovery (`crate::backend::recovery`), which asks the provider
//! only while the record still wants that expiry.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::calls::requested_lifetime_secs;
use super::configs::{load, provider_error};
use super::intents::Retry;
use super::origin::{mismatch, place_of};
use crate::backend::policy;
use crate::backend::record::KeyState;
use crate::backend::shared::Shared;
use crate::framework::{wal_put, Error, Storage};
use crate::providers::{ProviderError, ProviderType};
use crate::rotation::{Origin, Version, VersionState};

/// WAL kind of a provider-side expiry to move.
pub(crate) const WAL_EXPIRY: &str = "provider_expiry";

/// A key's provider-side expiry to move to `expires_at`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExpiryIntent {
    /// The managed key.
    pub key: String,
    /// The provider configuration the key lives at.
    pub provider: String,
    /// The version whose key it is.
    pub version: u32,
    /// The provider's id of the key.
    pub provider_key_id: String,
    /// Where the key lives: the update goes only there.
    pub origin: Origin,
    /// The expiry to set.
    pub expires_at: DateTime<Utc>,
    /// Whether this gives a reinstated version its full lifetime back (the record then shows
    /// no asked expiry) rather than its grace end.
    #[serde(default)]
    pub restore: bool,
    /// Recovery back-off.
    #[serde(default, flatten)]
    pub retry: Retry,
}

impl ExpiryIntent {
    /// Whether the version as stored still wants what this intent asks: a `previous` version
    /// whose asked expiry is this one, or a live non-previous one given its lifetime back.
    pub(crate) fn still_wanted(&self, v: &Version) -> bool {
        if v.provider_key_id.as_deref() != Some(self.provider_key_id.as_str()) {
            return false;
        }
        match v.state {
            VersionState::Previous => {
                !self.restore && v.provider_expiry_asked == Some(self.expires_at)
            }
            VersionState::Current | VersionState::Pending => {
                self.restore && v.provider_expiry_asked.is_none()
            }
            VersionState::Revoked | VersionState::Failed => false,
        }
    }
}

/// Writes an expiry intent; returns its id. Call before the write that stores the new end.
pub(crate) async fn begin_expiry(
    storage: &dyn Storage,
    intent: &ExpiryIntent,
) -> Result<String, Error> {
    let data = serde_json::to_value(intent)
        .map_err(|e| Error::Internal(format!("encoding an intent: {e}")))?;
    Ok(wal_put(storage, WAL_EXPIRY, &data).await?)
}

/// Whether the provider where `origin` lives can change a live key's expiry.
pub(crate) fn can_update_expiry(origin: &Origin) -> bool {
    ProviderType::parse(&origin.place.provider_type).is_some_and(|t| t.features().update_expiry)
}

/// The provider-side expiry a version of `key` at provider configuration `provider` (of type
/// `kind`), reinstated at `now`, gets back: the lifetime a key created there now would get
/// (`calls.rs`, within a stated `max_key_lifetime`), else the type's longest.
pub(crate) async fn full_lifetime_end(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    key: &KeyState,
    provider: &str,
    kind: ProviderType,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, Error> {
    let features = kind.features();
    let policy = load(storage, provider)
        .await?
        .and_then(|c| c.max_key_lifetime_secs);
    let periods = policy::periods(&shared.schedules, storage, key).await?;
    let secs = requested_lifetime_secs(&periods, features.max_expiry_secs, policy)
        .or(features.max_expiry_secs);
    Ok(secs
        .and_then(TimeDelta::try_seconds)
        .and_then(|d| now.checked_add_signed(d)))
}

/// Why an expiry update did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExpiryFailure {
    /// The provider (or the configuration) refused it: asking again will not help (the key
    /// expired already, the policy forbids the lifetime, the key is gone, no such provider).
    Refused(String),
    /// Not known to have happened (timeout, 5xx): recovery asks again.
    Transient(String),
}

/// Moves the expiry of `provider_key_id` at provider configuration `provider` to `at`, only if
/// the configuration points at `origin` (where the key lives). The expiry the provider reports.
pub(crate) async fn update_expiry_at(
    shared: &Shared,
    storage: &dyn Storage,
    provider: &str,
    provider_key_id: &str,
    origin: &Origin,
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ExpiryFailure> {
    let cfg = load(storage, provider)
        .await
        .map_err(|e| ExpiryFailure::Transient(e.to_string()))?
        .ok_or_else(|| ExpiryFailure::Refused(format!("provider {provider:?} no longer exists")))?;
    if let Some(why) = mismatch(provider, &origin.place, &place_of(&cfg)) {
        return Err(ExpiryFailure::Refused(why));
    }
    match shared
        .providers
        .update_expiry(&cfg, provider_key_id, at)
        .await
    {
        Ok(reported) => Ok(reported),
        Err(e) => {
            let transient = e.is_transient() || matches!(e, ProviderError::Protocol(_));
            let message =
                provider_error("changing the key's expiry at the provider", e).to_string();
            Err(match transient {
                true => ExpiryFailure::Transient(message),
                false => ExpiryFailure::Refused(message),
            })
        }
    }
}
