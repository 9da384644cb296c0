//! Provider-enforced grace ends of a [`Locked`] operation (`provider_ops/expiry.rs`): before the
//! record is written, an intent for every owned key whose provider-side expiry must follow its
//! version's grace end (or, for a reinstated version, go back to a full lifetime); once the
//! record is stored, one attempt at the provider, its outcome on the version and in the history.
//! A refusal (the key expired already, the provider's policy) is recorded and never blocks the
//! operation: the revocation on the tick still ends the key.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Locked;
use crate::backend::provider_ops::{self, ExpiryFailure, ExpiryIntent};
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};
use crate::providers::ProviderType;
use crate::rotation::{Version, VersionState};

/// An expiry update this operation requested: (version, intent id, intent).
pub(super) type ExpiryRequest = (u32, String, ExpiryIntent);

/// What version `v` needs at its provider, if anything: `Some((at, restore))`.
fn wanted(v: &Version, now: DateTime<Utc>) -> Option<(Option<DateTime<Utc>>, bool)> {
    let origin = v.origin.as_ref()?;
    if !v.owned() || !provider_ops::can_update_expiry(origin) {
        return None;
    }
    match v.state {
        VersionState::Previous => {
            let end = v.grace_expires_time.filter(|g| *g > now)?;
            (v.provider_expiry_asked != Some(end)).then_some((Some(end), false))
        }
        VersionState::Current | VersionState::Pending => {
            v.provider_expiry_asked.is_some().then_some((None, true))
        }
        VersionState::Revoked | VersionState::Failed => None,
    }
}

impl Locked {
    /// Writes an expiry intent for each version whose provider-side expiry must move, and
    /// records on the version what was asked (stored by the write that follows).
    pub(super) async fn request_expiry_updates(
        &mut self,
        shared: &Arc<Shared>,
        storage: &dyn Storage,
    ) -> Result<(), Error> {
        let now = self.now;
        let wants: Vec<(u32, Option<DateTime<Utc>>, bool)> = self
            .key_ref()
            .versions
            .versions
            .values()
            .filter_map(|v| wanted(v, now).map(|(at, restore)| (v.number, at, restore)))
            .collect();
        for (number, at, restore) in wants {
            let key = self.key_ref();
            let Some(v) = key.versions.get(number) else {
                continue;
            };
            let (Some(origin), Some(id)) = (v.origin.clone(), v.provider_key_id.clone()) else {
                continue;
            };
            let Some(provider) = v.provider.clone().or_else(|| key.provider.clone()) else {
                continue;
            };
            let at = match at {
                Some(at) => Some(at),
                None => match ProviderType::parse(&origin.place.provider_type) {
                    Some(kind) => {
                        provider_ops::full_lifetime_end(shared, storage, key, &provider, kind, now)
                            .await?
                    }
                    None => None,
                },
            };
            let Some(expires_at) = at else {
                continue;
            };
            let intent = ExpiryIntent {
                key: key.name.clone(),
                provider,
                version: number,
                provider_key_id: id,
                origin,
                expires_at,
                restore,
                retry: provider_ops::Retry::default(),
            };
            let intent_id = provider_ops::begin_expiry(storage, &intent).await?;
            if let Some(v) = self.key().versions.versions.get_mut(&number) {
                v.provider_expiry_asked = (!restore).then_some(expires_at);
            }
            self.expiry_requests.push((number, intent_id, intent));
        }
        Ok(())
    }

    /// Asks the provider once for each expiry update this operation requested (call after the
    /// record is stored) and records the outcomes; the intents of the settled ones (done or
    /// refused) are deleted by the caller once the record is saved. Whether anything was
    /// recorded.
    pub(super) async fn attempt_expiry_updates(
        &mut self,
        shared: &Arc<Shared>,
        storage: &dyn Storage,
    ) -> bool {
        let requests = std::mem::take(&mut self.expiry_requests);
        let any = !requests.is_empty();
        for (number, intent_id, intent) in requests {
            let result = provider_ops::update_expiry_at(
                shared,
                storage,
                &intent.provider,
                &intent.provider_key_id,
                &intent.origin,
                intent.expires_at,
            )
            .await;
            if !matches!(result, Err(ExpiryFailure::Transient(_))) {
                self.confirmed_intents.push(intent_id);
            }
            self.note_expiry(number, &intent, &result);
        }
        any
    }

    /// Records the outcome of an expiry update of version `number` on it and in the history:
    /// `provider_expiry_set` (the version shows the expiry the provider reported),
    /// `provider_expiry_refused` (also the key's `last_error`), or `provider_expiry_failed`
    /// (recovery asks again).
    pub(crate) fn note_expiry(
        &mut self,
        number: u32,
        intent: &ExpiryIntent,
        result: &Result<Option<DateTime<Utc>>, ExpiryFailure>,
    ) {
        let provider = intent.provider.clone();
        let asked = crate::backend::view::time(intent.expires_at);
        match result {
            Ok(reported) => {
                if let Some(v) = self.key().versions.versions.get_mut(&number) {
                    v.provider_expires_time = reported.or(Some(intent.expires_at));
                }
                let shown = reported.map_or(asked.clone(), crate::backend::view::time);
                let why = match intent.restore {
                    true => "the version is live again: its full lifetime",
                    false => "its grace end",
                };
                let detail = format!("expiry at provider {provider:?} set to {shown} ({why})");
                tracing::info!(key = %self.key_ref().name, version = number, provider = %provider, "key expiry moved at the provider");
                self.note(
                    "provider_expiry_set",
                    Some(number),
                    Some("confirmed"),
                    &detail,
                );
            }
            Err(ExpiryFailure::Refused(e)) => {
                let detail = format!(
                    "moving the expiry at provider {provider:?} to {asked} was refused: {e}; the \
                     revocation at the grace end still ends the key"
                );
                tracing::warn!(key = %self.key_ref().name, version = number, error = %e, "key expiry update refused at the provider");
                self.key().last_error = Some(detail.clone());
                self.note(
                    "provider_expiry_refused",
                    Some(number),
                    Some("refused"),
                    &detail,
                );
            }
            Err(ExpiryFailure::Transient(e)) => {
                let detail = format!(
                    "moving the expiry at provider {provider:?} to {asked} failed, will retry: {e}"
                );
                tracing::warn!(key = %self.key_ref().name, version = number, error = %e, "key expiry update failed; it is retried");
                self.note(
                    "provider_expiry_failed",
                    Some(number),
                    Some("pending"),
                    &detail,
                );
            }
        }
    }
}
