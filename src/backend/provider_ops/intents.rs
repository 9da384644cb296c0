//! The write-ahead intents around every provider mutation: with `recovery.rs`, which settles
//! what they cover, the one owner of crash safety at providers.
//!
//! - **create**: an intent naming the key-to-be is written *before* the provider call (so a
//!   standby fails on its read-only storage before any side effect), updated with the provider's
//!   id as soon as it answers, and deleted once the version is stored. An intent still there
//!   later means a crash or failure in between: every key under the unique name it was created
//!   under (and the recorded id) is revoked unless a version records it; "nothing was created"
//!   is believed only after lookups agreed for a while (`recovery/create.rs`), which the intent
//!   counts in its streak fields (absent from intents of earlier releases, which still decode).
//! - **revoke**: an intent per retired provider key is written *before* the record that retires
//!   the version (and the version records it as a pending [`ProviderRevocation`]), and deleted
//!   once the provider confirms. No request path, failure, cancellation or crash between two
//!   writes can leave a retired version whose key is alive with no intent to kill it. An intent
//!   whose version is still live means the retiring write never happened: it is dropped.
//!
//! Recovery (`crate::backend::recovery`) runs through the framework's WAL rollback driver on the periodic tick, only for
//! intents older than [`MIN_AGE`], never while the key's lock is held (the operation that wrote
//! the intent may still be running), and with growing back-off between failed attempts, so a
//! provider that keeps failing costs one attempt per back-off period, not a timeout a minute.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::backend::record;
use crate::framework::{put_json, wal_delete, wal_put, Error, Storage, WalEntry, WAL_PREFIX};
use crate::rotation::{Origin, Place, ProviderRevocation};

/// WAL kind of a key being created at a provider.
pub(crate) const WAL_CREATE: &str = "provider_create";
/// WAL kind of a retired key to revoke at a provider.
pub(crate) const WAL_REVOKE: &str = "provider_revoke";
/// Intents younger than this are left to the operation that wrote them.
pub(crate) const MIN_AGE: Duration = Duration::from_secs(30);
/// Time after which one tick starts no more recoveries (the rest wait for the next tick).
pub(crate) const BUDGET: Duration = Duration::from_secs(25);
/// The longest wait between two recovery attempts of one intent.
const MAX_BACKOFF_MINUTES: i64 = 60;

/// Retry bookkeeping carried inside an intent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Retry {
    /// Failed recovery attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// No recovery attempt before this time.
    #[serde(default)]
    pub next_attempt_time: Option<DateTime<Utc>>,
    /// Of a revoke intent whose key was deleted: whether its first failure was notified
    /// (`revocation.failed`, once per intent). Intents of earlier releases lack it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failure_notified: bool,
}

impl Retry {
    /// Whether a recovery attempt may run at `now`.
    pub(crate) fn due(&self, now: DateTime<Utc>) -> bool {
        self.next_attempt_time.is_none_or(|t| now >= t)
    }

    /// Records a failed attempt at `now`: the next waits twice as long, up to an hour.
    pub(crate) fn failed(&mut self, now: DateTime<Utc>) {
        self.attempts = self.attempts.saturating_add(1);
        let minutes = 1i64 << self.attempts.saturating_sub(1).min(6);
        self.next_attempt_time = Some(now + TimeDelta::minutes(minutes.min(MAX_BACKOFF_MINUTES)));
    }
}

/// A key being created at a provider for key `key`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CreateIntent {
    /// The managed key.
    pub key: String,
    /// The provider configuration asked to create it.
    pub provider: String,
    /// The unique name it is created under.
    pub name_at_provider: String,
    /// The provider's id, once it answered.
    #[serde(default)]
    pub provider_key_id: Option<String>,
    /// Ids recovery found under the name and could not revoke yet (tried again even if a later
    /// list leaves them out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unrevoked_ids: Vec<String>,
    /// When recovery's lookup by name first answered "nothing" in the current streak of such
    /// answers (none: no streak). Intents of earlier releases lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_found_since: Option<DateTime<Utc>>,
    /// How many lookups in a row answered "nothing" (a lookup that finds a key, or fails,
    /// starts the count again).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_found_lookups: u32,
    /// Where the configuration pointed when it was asked: a key found later is revoked only
    /// there. Intents of earlier releases lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<Place>,
    /// Recovery back-off, and when the next lookup is due.
    #[serde(default, flatten)]
    pub retry: Retry,
}

impl CreateIntent {
    /// A new intent for `key`, created at `provider` under `name_at_provider`.
    pub(crate) fn new(key: &str, provider: &str, name_at_provider: String) -> CreateIntent {
        CreateIntent {
            key: key.to_string(),
            provider: provider.to_string(),
            name_at_provider,
            provider_key_id: None,
            unrevoked_ids: Vec::new(),
            not_found_since: None,
            not_found_lookups: 0,
            place: None,
            retry: Retry::default(),
        }
    }

    /// Forgets the streak of "nothing under this name" answers.
    pub(crate) fn reset_not_found(&mut self) {
        self.not_found_since = None;
        self.not_found_lookups = 0;
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A retired key to revoke at a provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RevokeIntent {
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
    /// Where the key lives (its version's origin): the revocation goes only there. Intents of
    /// earlier releases, and of versions whose origin was never recorded, lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The incarnation of the key's name whose version this is (`history/<key>?incarnation=`):
    /// once the key is deleted, the outcome of a later attempt is appended to that history.
    /// Intents of earlier releases lack it (their outcome is only logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incarnation: Option<u32>,
    /// Recovery back-off.
    #[serde(default, flatten)]
    pub retry: Retry,
}

/// The history event name a deleted key's failed revocation is notified under (its type:
/// `revocation.failed`), as the live key's history records such a failure.
const REVOCATION_FAILED_EVENT: &str = "provider_revocation_failed";

impl RevokeIntent {
    /// Notifies the first failure of this deleted key's revocation (intent `id`): a
    /// `revocation.failed` notice, once per intent. Written before the intent records that it
    /// was sent (the caller stores the intent): a crash in between sends it again, with the
    /// same id. Whether the intent changed.
    pub(crate) async fn notify_failure(
        &mut self,
        storage: &dyn Storage,
        id: &str,
        error: &str,
        actor: &record::Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        if self.retry.failure_notified {
            return Ok(false);
        }
        let event = record::HistoryEvent {
            time: now,
            event: REVOCATION_FAILED_EVENT.to_string(),
            version: Some(self.version),
            actor: actor.clone(),
            request_id: None,
            outcome: Some("pending".to_string()),
            detail: format!(
                "the key was deleted and the revocation of version {} at provider {:?} failed; \
                 the engine keeps retrying: {error}",
                self.version, self.provider
            ),
        }
        .bounded();
        let discriminator = format!("revocation_failed:{}:{id}", self.version);
        let incarnation = self.incarnation.unwrap_or(0);
        record::stage_notice(storage, &self.key, incarnation, &discriminator, event).await?;
        self.retry.failure_notified = true;
        Ok(true)
    }
}

/// [`RevokeIntent::notify_failure`] for intent `id` as stored (the delete's own attempt, which
/// holds no decoded intent); best effort, logged.
pub(crate) async fn notify_failure_of(
    storage: &dyn Storage,
    id: &str,
    error: &str,
    actor: &record::Actor,
    now: DateTime<Utc>,
) {
    let result = async {
        let Some(entry) = crate::framework::wal_get(storage, id).await? else {
            return Ok(());
        };
        let mut intent: RevokeIntent = decode(&entry)?;
        if intent
            .notify_failure(storage, id, error, actor, now)
            .await?
        {
            rewrite(storage, id, &entry.kind, &intent, entry.created_at).await?;
        }
        Ok::<(), Error>(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(intent = id, error = %e, "could not notify a deleted key's failed revocation; recovery's next failure will");
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<serde_json::Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::Internal(format!("encoding an intent: {e}")))
}

/// Writes a create intent; returns its id.
pub(super) async fn begin_create(
    storage: &dyn Storage,
    intent: &CreateIntent,
) -> Result<String, Error> {
    Ok(wal_put(storage, WAL_CREATE, &to_json(intent)?).await?)
}

/// Rewrites intent `id` (keeping its creation time, so its age still counts from the start).
pub(crate) async fn rewrite<T: Serialize>(
    storage: &dyn Storage,
    id: &str,
    kind: &str,
    data: &T,
    created_at: i64,
) -> Result<(), Error> {
    let entry = WalEntry {
        kind: kind.to_string(),
        data: to_json(data)?,
        created_at,
    };
    Ok(put_json(storage, &format!("{WAL_PREFIX}{id}"), &entry).await?)
}

/// Records the provider's id on create intent `id` as soon as the provider answered.
pub(super) async fn note_created(
    storage: &dyn Storage,
    id: &str,
    intent: &CreateIntent,
) -> Result<(), Error> {
    rewrite(storage, id, WAL_CREATE, intent, Utc::now().timestamp()).await
}

/// Deletes an intent whose work is complete (best effort: recovery settles a leftover).
pub(crate) async fn settle(storage: &dyn Storage, id: Option<&str>) {
    if let Some(id) = id {
        if let Err(e) = wal_delete(storage, id).await {
            tracing::warn!(error = %e, "could not settle an intent; recovery will");
        }
    }
}

/// Writes a revoke intent for `revocation` of `key`'s `version` (of incarnation `incarnation`
/// of the name); returns its id. Call before the write that stores the retirement.
pub(crate) async fn begin_revoke(
    storage: &dyn Storage,
    key: &str,
    incarnation: u32,
    version: u32,
    revocation: &ProviderRevocation,
) -> Result<String, Error> {
    let intent = RevokeIntent {
        key: key.to_string(),
        provider: revocation.provider.clone(),
        version,
        provider_key_id: revocation.provider_key_id.clone(),
        owned: true,
        origin: revocation.origin.clone(),
        incarnation: Some(incarnation),
        retry: Retry::default(),
    };
    Ok(wal_put(storage, WAL_REVOKE, &to_json(&intent)?).await?)
}

/// An intent of `entry`'s kind, decoded.
pub(crate) fn decode<T: DeserializeOwned>(entry: &WalEntry) -> Result<T, Error> {
    serde_json::from_value(entry.data.clone())
        .map_err(|e| Error::Internal(format!("bad {} intent: {e}", entry.kind)))
}

/// Pending revocations at provider `provider`, as `key version N` strings: those a key's
/// record shows and those of deleted keys, which only their intents remember.
pub(crate) async fn pending_at(
    storage: &dyn Storage,
    provider: &str,
) -> Result<Vec<String>, Error> {
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
    // Judged on the digests; a record that cannot be read is left out here and judged by the
    // caller (`belongings`: it blocks a provider delete when it might name the provider).
    let mut keys = std::pin::pin!(record::digests(storage).await?);
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

/// The revocations of deleted keys (or of an earlier incarnation of a name) that the provider
/// has not confirmed: only their intents remember them, so reports and metrics read them here.
/// In key and version order.
pub(crate) async fn of_deleted_keys(storage: &dyn Storage) -> Result<Vec<RevokeIntent>, Error> {
    let mut out = Vec::new();
    for id in crate::framework::wal_list(storage).await? {
        let Some(entry) = crate::framework::wal_get(storage, &id).await? else {
            continue;
        };
        if entry.kind != WAL_REVOKE {
            continue;
        }
        let Ok(intent) = decode::<RevokeIntent>(&entry) else {
            continue;
        };
        let shown = record::read(storage, &intent.key).await?.is_some_and(|e| {
            e.key.versions.get(intent.version).is_some_and(|v| {
                v.state.keeps_value()
                    || v.provider_revocation
                        .as_ref()
                        .is_some_and(|r| r.intent_id.as_deref() == Some(id.as_str()))
            })
        });
        if !shown {
            out.push(intent);
        }
    }
    out.sort_by(|a, b| (&a.key, a.version).cmp(&(&b.key, b.version)));
    Ok(out)
}
