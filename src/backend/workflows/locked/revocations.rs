//! The revocations a [`Locked`] operation retires: the intents written before the record that
//! retires a version, the `manual` records of keys the engine does not own, one attempt at the
//! provider once the retirement is stored, and the outcome on the version and in the history.

use std::sync::Arc;

use super::{revocation_delay, Locked};
use crate::backend::provider_ops;
use crate::backend::record;
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};
use crate::rotation::ProviderRevocation;

impl Locked {
    /// Writes a revoke intent for each retired provider key that has none yet, and marks its
    /// version's revocation pending; records the revocations left to a person as `manual`.
    pub(crate) async fn request_revocations(&mut self, storage: &dyn Storage) -> Result<(), Error> {
        self.record_manual();
        let now = self.now;
        let retired = self.retired.clone();
        for (number, id) in retired {
            let key = self.key_ref();
            let Some(v) = key.versions.get(number) else {
                continue;
            };
            if v.provider_revocation.is_some() {
                continue;
            }
            let Some(provider) = v.provider.clone().or_else(|| key.provider.clone()) else {
                tracing::warn!(key = %key.name, version = number, "retired key has no provider to revoke it at");
                continue;
            };
            let mut revocation = ProviderRevocation::requested(&provider, &id, now);
            // The revocation goes where the key lives, whatever the configuration says later.
            revocation.origin = v.origin.clone();
            let name = key.name.clone();
            let incarnation = self.entry.log.incarnation;
            revocation.intent_id = Some(
                provider_ops::begin_revoke(storage, &name, incarnation, number, &revocation)
                    .await?,
            );
            if let Some(v) = self.key().versions.versions.get_mut(&number) {
                v.provider_revocation = Some(revocation);
            }
        }
        Ok(())
    }

    /// Turns version `number`'s pending revocation into a `manual` one (recorded by the next
    /// save), for a key an earlier release would have revoked without owning it. Whether
    /// anything changed.
    pub(crate) fn leave_to_person(&mut self, number: u32) -> bool {
        let Some(v) = self.key().versions.versions.get_mut(&number) else {
            return false;
        };
        if v.owned()
            || !v
                .provider_revocation
                .as_ref()
                .is_some_and(ProviderRevocation::is_pending)
        {
            return false;
        }
        v.provider_revocation = None;
        self.manual.push(number);
        true
    }

    /// Records a `manual` revocation, with a history event saying what to revoke by hand, for
    /// each version this operation retired whose key the engine does not own. A version with
    /// no provider (the key never had one) records nothing: the engine cannot say where it
    /// lives.
    fn record_manual(&mut self) {
        let now = self.now;
        for number in std::mem::take(&mut self.manual) {
            let key = self.key_ref();
            let Some(v) = key.versions.get(number) else {
                continue;
            };
            if v.provider_revocation.is_some() {
                continue;
            }
            let Some(provider) = v.provider.clone().or_else(|| key.provider.clone()) else {
                continue;
            };
            let why = if v.engine_created {
                "the engine created this key but recorded no id for it"
            } else if v.provider_key_id.is_some() {
                "an imported key whose id no possession of its value proved: the engine never \
                 revokes a key it cannot show is its own"
            } else {
                "an imported key without a provider id: the engine never revokes a key it cannot \
                 show is its own"
            };
            let what = match &v.provider_key_id {
                Some(id) => format!("key {id:?}"),
                None => "the key".to_string(),
            };
            let detail = format!(
                "revoke {what} (fingerprint {}) at provider {provider:?} by hand, then record it \
                 with acknowledge/{}: {why}",
                v.fingerprint, key.name
            );
            let revocation =
                ProviderRevocation::manual(&provider, v.provider_key_id.as_deref(), now, why);
            tracing::warn!(key = %key.name, version = number, provider = %provider, "retired key left for a person to revoke at the provider (manual)");
            if let Some(v) = self.key().versions.versions.get_mut(&number) {
                v.provider_revocation = Some(revocation);
            }
            self.note(
                "provider_revocation_manual",
                Some(number),
                Some("manual"),
                &detail,
            );
        }
    }

    /// Tries each pending revocation of this operation once (call after the retirement is
    /// stored) and records the outcomes; the intents of the confirmed ones are settled by the
    /// caller once the record is saved. Whether anything was recorded.
    pub(crate) async fn attempt_revocations(
        &mut self,
        shared: &Arc<Shared>,
        storage: &dyn Storage,
    ) -> bool {
        let outcomes = self.revoke_pending(shared, storage).await;
        for (number, result) in &outcomes {
            self.note_revocation(*number, result);
        }
        !outcomes.is_empty()
    }

    /// Calls the provider once for each pending revocation this operation retired, keeping the
    /// intents of the confirmed ones in `confirmed_intents`; the outcome per version.
    async fn revoke_pending(
        &mut self,
        shared: &Arc<Shared>,
        storage: &dyn Storage,
    ) -> Vec<(u32, Result<(), String>)> {
        let mut outcomes = Vec::new();
        let retired = std::mem::take(&mut self.retired);
        let pending = |number: &u32| {
            self.key_ref()
                .versions
                .get(*number)
                .and_then(|v| v.provider_revocation.as_ref())
                .is_some_and(ProviderRevocation::is_pending)
        };
        if retired.iter().any(|(number, _)| pending(number)) {
            tokio::time::sleep(revocation_delay(shared).await).await;
        }
        for (number, _) in retired {
            let Some(revocation) = self
                .key_ref()
                .versions
                .get(number)
                .and_then(|v| v.provider_revocation.clone())
                .filter(ProviderRevocation::is_pending)
            else {
                continue;
            };
            let result = provider_ops::revoke_at(
                shared,
                storage,
                &revocation.provider,
                &revocation.provider_key_id,
                revocation.origin.as_ref().map(|o| &o.place),
            )
            .await;
            if result.is_ok() {
                self.confirmed_intents.extend(revocation.intent_id.clone());
            }
            outcomes.push((number, result));
        }
        outcomes
    }

    /// Records the outcome of a revocation attempt on version `number` and in the history.
    pub(crate) fn note_revocation(&mut self, number: u32, result: &Result<(), String>) {
        let now = self.now;
        let Some(revocation) = self
            .key()
            .versions
            .versions
            .get_mut(&number)
            .and_then(|v| v.provider_revocation.as_mut())
        else {
            return;
        };
        let provider = revocation.provider.clone();
        match result {
            Ok(()) => {
                revocation.confirm(now);
                let detail = format!("revoked at provider {provider:?}");
                tracing::info!(key = %self.key_ref().name, version = number, provider = %provider, "key revoked at the provider");
                self.note("provider_revoked", Some(number), Some("confirmed"), &detail);
            }
            Err(e) => {
                revocation.failed(e);
                let detail = format!("revocation at provider {provider:?} failed, will retry: {e}");
                tracing::warn!(key = %self.key_ref().name, version = number, error = %e, "revocation at the provider failed; it stays pending and is retried");
                self.note(
                    "provider_revocation_failed",
                    Some(number),
                    Some("pending"),
                    &detail,
                );
            }
        }
    }

    /// For a key being deleted, once its record is gone: tries each revocation once and settles
    /// the intents of the confirmed ones; the others stay for recovery. The outcomes are noted
    /// on the entry in memory (for the answer: the record is gone) and appended to the deleted
    /// incarnation's kept history (`history/<name>?incarnation=N`), so it shows the revocation
    /// confirmed, or its first failure (recovery appends the confirmation later).
    pub(crate) async fn revoke_deleted(&mut self, shared: &Arc<Shared>, storage: &dyn Storage) {
        let noted = self.entry.unsaved.len();
        for (number, result) in self.revoke_pending(shared, storage).await {
            if let Err(e) = &result {
                tracing::warn!(key = %self.key_ref().name, version = number, error = %e, "revocation of a deleted key's version failed; recovery retries it");
                // The first failure reaches people now (`revocation.failed`), once per intent.
                let intent = self
                    .key_ref()
                    .versions
                    .get(number)
                    .and_then(|v| v.provider_revocation.as_ref())
                    .and_then(|r| r.intent_id.clone());
                if let Some(id) = intent {
                    provider_ops::notify_failure_of(storage, &id, e, &self.actor, self.now).await;
                }
            }
            self.note_revocation(number, &result);
        }
        let events = self.entry.unsaved.get(noted..).unwrap_or_default().to_vec();
        let name = self.key_ref().name.clone();
        let incarnation = self.entry.log.incarnation;
        if let Err(e) =
            record::append_to_deleted_history(storage, &name, incarnation, &events).await
        {
            tracing::warn!(key = %name, error = %e, "could not add the revocation outcomes to the deleted key's history");
        }
        // The record is already gone: nothing else would tell recovery the key is dead.
        self.settle_confirmed(storage).await;
    }
}
