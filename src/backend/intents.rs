//! The write-ahead intents around every provider mutation, and their recovery: the one owner of
//! crash safety at providers (api.md "Automatic work").
//!
//! - **create**: an intent naming the key-to-be is written *before* the provider call (so a
//!   standby fails on its read-only storage before any side effect), updated with the provider's
//!   id as soon as it answers, and deleted once the version is stored. An intent still there
//!   later means a crash or failure in between: the key is looked up (by id, else by the unique
//!   name it was created under) and revoked unless a version records it.
//! - **revoke**: an intent per retired provider key is written *before* the record that retires
//!   the version (and the version records it as a pending [`ProviderRevocation`]), and deleted
//!   once the provider confirms. No request path, failure, cancellation or crash between two
//!   writes can leave a retired version whose key is alive with no intent to kill it. An intent
//!   whose version is still live means the retiring write never happened: it is dropped.
//!
//! Recovery runs through the framework's WAL rollback driver on the periodic tick, only for
//! intents older than [`MIN_AGE`], never while the key's lock is held (the operation that wrote
//! the intent may still be running), and with growing back-off between failed attempts, so a
//! provider that keeps failing costs one attempt per back-off period, not a timeout a minute.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::key_locks::KeyGuard;
use super::locked::Locked;
use super::store::{self, Actor};
use super::{provider_ops, Shared};
use crate::framework::{
    put_json, wal_delete, wal_put, Error, Request, Storage, WalEntry, WalOutcome, WAL_PREFIX,
};
use crate::rotation::{ProviderRevocation, VersionState};

/// WAL kind of a key being created at a provider.
pub const WAL_CREATE: &str = "provider_create";
/// WAL kind of a retired key to revoke at a provider.
pub const WAL_REVOKE: &str = "provider_revoke";
/// Intents younger than this are left to the operation that wrote them.
pub const MIN_AGE: Duration = Duration::from_secs(30);
/// Time after which one tick starts no more recoveries (the rest wait for the next tick).
pub const BUDGET: Duration = Duration::from_secs(25);
/// The longest wait between two recovery attempts of one intent.
const MAX_BACKOFF_MINUTES: i64 = 60;

/// Retry bookkeeping carried inside an intent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Retry {
    /// Failed recovery attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// No recovery attempt before this time.
    #[serde(default)]
    pub next_attempt_time: Option<DateTime<Utc>>,
}

impl Retry {
    fn due(&self, now: DateTime<Utc>) -> bool {
        self.next_attempt_time.is_none_or(|t| now >= t)
    }

    fn failed(&mut self, now: DateTime<Utc>) {
        self.attempts = self.attempts.saturating_add(1);
        let minutes = 1i64 << self.attempts.saturating_sub(1).min(6);
        self.next_attempt_time = Some(now + TimeDelta::minutes(minutes.min(MAX_BACKOFF_MINUTES)));
    }
}

/// A key being created at a provider for key `key`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateIntent {
    /// The managed key.
    pub key: String,
    /// The provider configuration asked to create it.
    pub provider: String,
    /// The unique name it is created under.
    pub name_at_provider: String,
    /// The provider's id, once it answered.
    #[serde(default)]
    pub provider_key_id: Option<String>,
    /// Recovery back-off.
    #[serde(default, flatten)]
    pub retry: Retry,
}

/// A retired key to revoke at a provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeIntent {
    /// The managed key.
    pub key: String,
    /// The provider configuration the key lives at.
    pub provider: String,
    /// The retired version.
    pub version: u32,
    /// The provider's id of the key.
    pub provider_key_id: String,
    /// Whether the engine proved the key is this key's (it created it, or the provider's record
    /// matched the value). Intents of the previous release lack it.
    #[serde(default)]
    pub owned: bool,
    /// Recovery back-off.
    #[serde(default, flatten)]
    pub retry: Retry,
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("intents serialize")
}

/// Writes a create intent; returns its id.
pub async fn begin_create(storage: &dyn Storage, intent: &CreateIntent) -> Result<String, Error> {
    Ok(wal_put(storage, WAL_CREATE, &to_json(intent)).await?)
}

/// Rewrites intent `id` (keeping its creation time, so its age still counts from the start).
async fn rewrite<T: Serialize>(
    storage: &dyn Storage,
    id: &str,
    kind: &str,
    data: &T,
    created_at: i64,
) -> Result<(), Error> {
    let entry = WalEntry {
        kind: kind.to_string(),
        data: to_json(data),
        created_at,
    };
    Ok(put_json(storage, &format!("{WAL_PREFIX}{id}"), &entry).await?)
}

/// Records the provider's id on create intent `id` as soon as the provider answered.
pub async fn note_created(
    storage: &dyn Storage,
    id: &str,
    intent: &CreateIntent,
) -> Result<(), Error> {
    rewrite(storage, id, WAL_CREATE, intent, Utc::now().timestamp()).await
}

/// Deletes an intent whose work is complete (best effort: recovery settles a leftover).
pub async fn settle(storage: &dyn Storage, id: Option<&str>) {
    if let Some(id) = id {
        if let Err(e) = wal_delete(storage, id).await {
            tracing::warn!(error = %e, "could not settle an intent; recovery will");
        }
    }
}

/// Writes a revoke intent for `revocation` of `key`'s `version`; returns its id. Call before
/// the write that stores the retirement.
pub async fn begin_revoke(
    storage: &dyn Storage,
    key: &str,
    version: u32,
    revocation: &ProviderRevocation,
) -> Result<String, Error> {
    let intent = RevokeIntent {
        key: key.to_string(),
        provider: revocation.provider.clone(),
        version,
        provider_key_id: revocation.provider_key_id.clone(),
        owned: true,
        retry: Retry::default(),
    };
    Ok(wal_put(storage, WAL_REVOKE, &to_json(&intent)).await?)
}

/// Revokes `provider_key_id` at provider configuration `provider`. The error is a short
/// message for the record (never key material).
pub async fn revoke_at(
    shared: &Shared,
    storage: &dyn Storage,
    provider: &str,
    provider_key_id: &str,
) -> Result<(), String> {
    let cfg = provider_ops::load(storage, provider)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("provider {provider:?} no longer exists"))?;
    shared
        .providers
        .revoke_key(&cfg, provider_key_id)
        .await
        .map_err(|e| provider_ops::provider_error("revoking a key at the provider", e).to_string())
}

/// The WAL rollback handler: finishes or undoes what an intent covers.
pub async fn recover(
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
        WAL_CREATE => recover_create(&shared, storage, &id, &entry).await,
        WAL_REVOKE => recover_revoke(&shared, storage, &id, &entry).await,
        other => {
            tracing::error!(kind = other, "unknown intent kind; dropping it");
            Ok(WalOutcome::Settled)
        }
    }
}

fn decode<T: DeserializeOwned>(entry: &WalEntry) -> Result<T, Error> {
    serde_json::from_value(entry.data.clone())
        .map_err(|e| Error::Internal(format!("bad {} intent: {e}", entry.kind)))
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

async fn recover_create(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    id: &str,
    entry: &WalEntry,
) -> Result<WalOutcome, Error> {
    let mut intent: CreateIntent = decode(entry)?;
    let now = Utc::now();
    let _guard = match claim(shared, storage, id, &intent.key, &intent.retry, now).await? {
        Ok(guard) => guard,
        Err(outcome) => return Ok(outcome),
    };
    let Some(cfg) = provider_ops::load(storage, &intent.provider).await? else {
        tracing::error!(key = %intent.key, provider = %intent.provider, "provider is gone; cannot clean up an unrecorded key");
        return Ok(WalOutcome::Settled);
    };
    // The id first (from the intent, else by the unique name the key was created under).
    let found = match intent.provider_key_id.clone() {
        Some(id) => Ok(Some(id)),
        None => shared
            .providers
            .find_key_by_name(&cfg, &intent.name_at_provider)
            .await
            .map_err(|e| provider_ops::provider_error("looking up an unrecorded key", e)),
    };
    let key_id = match found {
        Ok(Some(key_id)) => key_id,
        Ok(None) => return Ok(WalOutcome::Settled),
        Err(e) => {
            intent.retry.failed(now);
            return back_off(storage, id, entry, &intent, &e.to_string()).await;
        }
    };
    let recorded = store::load_key(storage, &intent.key)
        .await?
        .is_some_and(|k| {
            k.versions
                .versions
                .values()
                .any(|v| v.provider_key_id.as_deref() == Some(key_id.as_str()))
        });
    if recorded {
        return Ok(WalOutcome::Settled);
    }
    if let Err(e) = revoke_at(shared, storage, &intent.provider, &key_id).await {
        intent.provider_key_id = Some(key_id);
        intent.retry.failed(now);
        return back_off(storage, id, entry, &intent, &e).await;
    }
    tracing::warn!(key = %intent.key, provider_key_id = %key_id, "revoked a key created at the provider but never recorded");
    Ok(WalOutcome::Settled)
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
    let version = store::load_key(storage, &intent.key)
        .await?
        .and_then(|k| k.versions.get(intent.version).cloned())
        .filter(|v| v.provider_key_id.as_deref() == Some(intent.provider_key_id.as_str()));
    // Only keys proven to be this key's are ever revoked. A previous-release intent names an
    // unproven id only for a type that cannot create keys (its other intents were for keys the
    // engine created).
    let proven = match &version {
        Some(v) => v.engine_created || v.provider_key_verified,
        None => intent.owned || creates_keys(storage, &intent.provider).await?,
    };
    if !proven {
        tracing::warn!(key = %intent.key, version = intent.version, "dropping a revocation of a key not proven to be this key's");
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
    let result = revoke_at(shared, storage, &intent.provider, &intent.provider_key_id).await;
    if version.is_some() {
        // Tell the record what happened (the key still exists).
        let mut locked =
            Locked::with_guard(shared, storage, &intent.key, Actor::Scheduler, None, guard).await?;
        locked.note_revocation(intent.version, &result);
        locked.save(storage).await?;
    } else {
        drop(guard);
        match &result {
            Ok(()) => {
                tracing::info!(key = %intent.key, version = intent.version, "revoked a deleted key's version at the provider")
            }
            Err(e) => {
                tracing::warn!(key = %intent.key, version = intent.version, error = %e, "revocation of a deleted key's version failed; will retry")
            }
        }
    }
    match result {
        Ok(()) => Ok(WalOutcome::Settled),
        Err(e) => {
            intent.retry.failed(now);
            back_off(storage, id, entry, &intent, &e).await
        }
    }
}

/// Whether provider `provider` is of a type that creates keys (as before, a provider that is
/// no longer configured counts as one: its intent stays until the provider is back).
async fn creates_keys(storage: &dyn Storage, provider: &str) -> Result<bool, Error> {
    Ok(provider_ops::kind_of(storage, Some(provider))
        .await?
        .is_none_or(|t| t.creates_keys()))
}

/// Pending revocations at provider `provider`, as `key version N` strings: those a key's
/// record shows and those of deleted keys, which only their intents remember.
pub async fn pending_at(storage: &dyn Storage, provider: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for id in crate::framework::wal_list(storage).await? {
        let Some(entry) = crate::framework::wal_get(storage, &id).await? else {
            continue;
        };
        if entry.kind == WAL_REVOKE {
            if let Ok(intent) = decode::<RevokeIntent>(&entry) {
                if intent.provider == provider {
                    out.push(format!("{} version {}", intent.key, intent.version));
                }
            }
        }
    }
    // Judged on the digests, and refused on a record that cannot be read: a provider deleted
    // while a damaged record still waits for it would leave that key alive there.
    let mut keys = std::pin::pin!(super::scan::digests_checked(storage).await?);
    while let Some((name, key)) = futures::TryStreamExt::try_next(&mut keys).await? {
        for r in key.revocations.iter().filter(|r| &*r.provider == provider) {
            let label = format!("{name} version {}", r.version);
            if !out.contains(&label) {
                out.push(label);
            }
        }
    }
    out.sort();
    Ok(out)
}
