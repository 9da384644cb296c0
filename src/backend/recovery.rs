//! Crash recovery at providers: the WAL rollback handler the framework runs on the periodic
//! tick for every intent older than [`MIN_AGE`] (see `provider_ops/intents.rs` for what each
//! intent promises). A create intent still there means a key may exist at the provider that no
//! version records: every key under its name is looked up and revoked unless a version records
//! it, and "nothing was created" is believed only after lookups agreed for a while
//! (`recovery/create.rs`). A revoke intent
//! means a retired key may still be alive: it is revoked at its provider, and the key's record
//! is told, unless its version turns out to be live (the retiring write never happened).
//!
//! An expiry intent means a provider-side expiry the record asks for may not be set yet
//! (`recovery/expiry.rs`).
//!
//! Never while the key's lock is held (the operation that wrote the intent may still be
//! running), and with growing back-off between failed attempts.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::provider_ops::{
    self, decode, revoke_at, rewrite, Retry, RevokeIntent, WAL_CREATE, WAL_EXPIRY, WAL_REVOKE,
};
use super::record::{self, Actor, KeyGuard};
use super::shared::Shared;
use super::workflows::Locked;
use crate::framework::{Error, Request, Storage, WalEntry, WalOutcome};
use crate::rotation::VersionState;

pub(super) use super::provider_ops::{BUDGET, MIN_AGE};

/// The WAL rollback handler: finishes or undoes what an intent covers.
pub(super) async fn recover(
    shared: Arc<Shared>,
    req: Request,
    id: String,
    entry: WalEntry,
) -> Result<WalOutcome, Error> {
    let storage = req.storage.as_ref();
    // Standbys never act at a provider (and cannot write).
    if shared.system.is_standby().await {
        return Ok(WalOutcome::Later);
    }
    match entry.kind.as_str() {
        WAL_CREATE => {
            let patience = create::Patience::of(&req);
            create::recover_create(&shared, storage, &id, &entry, patience).await
        }
        WAL_REVOKE => recover_revoke(&shared, storage, &id, &entry).await,
        WAL_EXPIRY => expiry::recover_expiry(&shared, storage, &id, &entry).await,
        other => {
            tracing::error!(kind = other, "unknown intent kind; dropping it");
            Ok(WalOutcome::Settled)
        }
    }
}

/// Records a failed recovery attempt on the intent (back-off) and keeps it.
async fn back_off<T: Serialize>(
    storage: &dyn Storage,
    id: &str,
    entry: &WalEntry,
    intent: &T,
    error: &str,
) -> Result<WalOutcome, Error> {
    tracing::warn!(intent = id, kind = %entry.kind, error, "unfinished provider operation could not be settled yet; backing off");
    rewrite(storage, id, &entry.kind, intent, entry.created_at).await?;
    Ok(WalOutcome::Later)
}

/// Whether intent `id` (for key `key`) may be worked on now: its back-off is over, the
/// operation that wrote it no longer runs (it would hold the key's lock), and it still exists.
/// The key's lock, or what to tell the WAL driver instead.
async fn claim(
    shared: &Shared,
    storage: &dyn Storage,
    id: &str,
    key: &str,
    retry: &Retry,
    now: DateTime<Utc>,
) -> Result<Result<KeyGuard, WalOutcome>, Error> {
    if !retry.due(now) {
        return Ok(Err(WalOutcome::Later));
    }
    let Some(guard) = shared.locks.try_lock(key) else {
        return Ok(Err(WalOutcome::Later));
    };
    if crate::framework::wal_get(storage, id).await?.is_none() {
        return Ok(Err(WalOutcome::Settled));
    }
    Ok(Ok(guard))
}

async fn recover_revoke(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    id: &str,
    entry: &WalEntry,
) -> Result<WalOutcome, Error> {
    let mut intent: RevokeIntent = decode(entry)?;
    let now = Utc::now();
    let guard = match claim(shared, storage, id, &intent.key, &intent.retry, now).await? {
        Ok(guard) => guard,
        Err(outcome) => return Ok(outcome),
    };
    let version = record::load_key(storage, &intent.key)
        .await?
        .and_then(|k| k.versions.get(intent.version).cloned())
        .filter(|v| v.provider_key_id.as_deref() == Some(intent.provider_key_id.as_str()));
    // Only keys the engine owns are ever revoked. A previous-release intent names an unproven
    // id only for a type that cannot create keys (its other intents were for keys the engine
    // created). An earlier release also revoked imported keys whose id only matched the
    // provider's hint: such a revocation still pending is left to a person (`manual`).
    let proven = match &version {
        Some(v) => v.owned(),
        None => intent.owned || creates_keys(storage, &intent.provider).await?,
    };
    if !proven {
        tracing::warn!(key = %intent.key, version = intent.version, "dropping a revocation of a key not proven to be this key's; left to a person");
        if version.is_none() {
            let requested = DateTime::from_timestamp(entry.created_at, 0).unwrap_or(now);
            provider_ops::keep_unproven(storage, &intent, requested).await?;
        } else {
            let mut locked =
                Locked::with_guard(shared, storage, &intent.key, Actor::Scheduler, None, guard)
                    .await?;
            if locked.leave_to_person(intent.version) {
                locked.save(storage).await?;
            }
        }
        return Ok(WalOutcome::Settled);
    }
    if let Some(v) = &version {
        if matches!(
            v.state,
            VersionState::Pending | VersionState::Current | VersionState::Previous
        ) {
            // The write that was to retire the version never happened.
            return Ok(WalOutcome::Settled);
        }
        if v.provider_revocation
            .as_ref()
            .is_some_and(|r| !r.is_pending())
        {
            return Ok(WalOutcome::Settled);
        }
    }
    // The origin the version records, else the one its intent carries (a deleted key's).
    let origin = version
        .as_ref()
        .and_then(|v| v.origin.clone())
        .or_else(|| intent.origin.clone());
    let place = origin.as_ref().map(|o| &o.place);
    let result = revoke_at(
        shared,
        storage,
        &intent.provider,
        &intent.provider_key_id,
        place,
    )
    .await;
    if version.is_some() {
        // Tell the record what happened (the key still exists).
        let mut locked =
            Locked::with_guard(shared, storage, &intent.key, Actor::Scheduler, None, guard).await?;
        locked.note_revocation(intent.version, &result);
        locked.save(storage).await?;
    } else {
        match &result {
            Ok(()) => {
                tracing::info!(key = %intent.key, version = intent.version, "revoked a deleted key's version at the provider")
            }
            Err(e) => {
                tracing::warn!(key = %intent.key, version = intent.version, error = %e, "revocation of a deleted key's version failed; will retry")
            }
        }
        // The deleted key's kept history tells the outcome (still under the name's lock): the
        // confirmation, and of the failures only recovery's first (the back-off repeats them).
        if result.is_ok() || intent.retry.attempts == 0 {
            note_deleted(storage, &intent, &result, now).await;
        }
        // Its first failure reaches people (`revocation.failed`), once per intent: the back-off
        // below stores that it did.
        if let Err(e) = &result {
            if let Err(err) = intent
                .notify_failure(storage, id, e, &Actor::Scheduler, now)
                .await
            {
                tracing::warn!(key = %intent.key, error = %err, "could not notify a deleted key's failed revocation; tried again at its next failure");
            }
        }
        drop(guard);
    }
    match result {
        Ok(()) => Ok(WalOutcome::Settled),
        Err(e) => {
            intent.retry.failed(now);
            back_off(storage, id, entry, &intent, &e).await
        }
    }
}

/// Appends the outcome of a recovery attempt at a deleted key's revocation to the history of its
/// incarnation (`provider_revoked` or `provider_revocation_failed`, by the scheduler), as the
/// record would have; best effort (an intent of an earlier release names no incarnation).
async fn note_deleted(
    storage: &dyn Storage,
    intent: &RevokeIntent,
    result: &Result<(), String>,
    now: DateTime<Utc>,
) {
    let Some(incarnation) = intent.incarnation else {
        return;
    };
    let provider = &intent.provider;
    let (event, outcome, detail) = match result {
        Ok(()) => (
            "provider_revoked",
            "confirmed",
            format!("revoked at provider {provider:?} after the key was deleted"),
        ),
        Err(e) => (
            "provider_revocation_failed",
            "pending",
            format!("revocation at provider {provider:?} failed, will retry: {e}"),
        ),
    };
    let ev = record::HistoryEvent {
        time: now,
        event: event.to_string(),
        version: Some(intent.version),
        actor: Actor::Scheduler,
        request_id: None,
        outcome: Some(outcome.to_string()),
        detail,
    }
    .bounded();
    if let Err(e) =
        record::append_to_deleted_history(storage, &intent.key, incarnation, &[ev]).await
    {
        tracing::warn!(key = %intent.key, error = %e, "could not add a revocation outcome to the deleted key's history");
    }
}

/// Whether provider `provider` is of a type that creates keys (as before, a provider that is
/// no longer configured counts as one: its intent stays until the provider is back).
async fn creates_keys(storage: &dyn Storage, provider: &str) -> Result<bool, Error> {
    Ok(provider_ops::kind_of(storage, Some(provider))
        .await?
        .is_none_or(|t| t.creates_keys()))
}

mod create;
mod expiry;
#[cfg(test)]
mod tests;
