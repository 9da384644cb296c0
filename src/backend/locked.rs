//! A key opened for writing: its lock held, its record checked (and converted if the previous
//! release wrote it), grace expiry applied, changes recorded in its history with the request's
//! actor, then saved (history pages, then the record).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::key_locks::KeyGuard;
use super::store::{self, Actor, Idempotency, KeyEntry, KeyState};
use super::{Config, Shared};
use crate::framework::{Error, Request, Storage};
use crate::rotation::{Change, RotationError};

/// A key under its write lock.
pub struct Locked {
    _guard: KeyGuard,
    /// The entry as it will be saved.
    pub entry: KeyEntry,
    /// The time of this operation.
    pub now: DateTime<Utc>,
    /// Mount configuration at the time of the operation.
    pub config: Config,
    /// Who is acting.
    pub actor: Actor,
    request_id: Option<String>,
    /// Provider keys retired by this operation: (version, provider key id).
    pub retired: Vec<(u32, String)>,
    /// Whether opening the key already changed it (a grace window had closed).
    pub expired: bool,
    /// The type of the key's provider, if it has one.
    pub provider_kind: Option<crate::providers::ProviderType>,
}

impl Locked {
    /// Locks and loads key `name` for `req` (400 if it does not exist), and retires a previous
    /// version whose grace has ended, recording that as the scheduler's doing.
    pub async fn open(shared: &Arc<Shared>, req: &Request, name: &str) -> Result<Locked, Error> {
        Self::open_as(
            shared,
            req.storage.as_ref(),
            name,
            Actor::of(req),
            Some(req.id.clone()),
        )
        .await
    }

    /// Same as [`Locked::open`], for the engine's own work.
    pub async fn open_as(
        shared: &Arc<Shared>,
        storage: &dyn Storage,
        name: &str,
        actor: Actor,
        request_id: Option<String>,
    ) -> Result<Locked, Error> {
        let guard = shared.locks.lock(name).await;
        let mut entry = store::load_existing(storage, name).await?;
        if entry.is_previous_format() {
            // Initialize converts every record; one it has not reached yet is converted here,
            // under the key's lock, before anything changes it.
            super::migrate::key(storage, name).await?;
            entry = store::load_existing(storage, name).await?;
        }
        let config = Config::load(storage).await?;
        let provider = entry.key.as_ref().and_then(|k| k.provider.clone());
        let provider_kind = super::provider_ops::kind_of(storage, provider.as_deref()).await?;
        let mut locked = Locked {
            _guard: guard,
            entry,
            now: Utc::now(),
            config,
            actor,
            request_id: request_id.filter(|r| !r.is_empty()),
            retired: Vec::new(),
            expired: false,
            provider_kind,
        };
        locked.expired = locked.expire();
        Ok(locked)
    }

    /// Retires previous versions whose grace has ended (as the scheduler).
    pub fn expire(&mut self) -> bool {
        let now = self.now;
        let changes = self.key().versions.expire(now);
        if changes.is_empty() {
            return false;
        }
        self.note_retired(&changes);
        let limit = self.config.history_limit;
        self.entry
            .record(&changes, &Actor::Scheduler, None, None, now, limit);
        true
    }

    /// The key.
    pub fn key(&mut self) -> &mut KeyState {
        self.entry.key.as_mut().expect("locked key is live")
    }

    /// The key, read-only.
    pub fn key_ref(&self) -> &KeyState {
        self.entry.key.as_ref().expect("locked key is live")
    }

    /// Records `changes` made by the actor, with an optional outcome.
    pub fn record(&mut self, changes: &[Change], outcome: Option<&str>) {
        self.note_retired(changes);
        let limit = self.config.history_limit;
        self.entry.record(
            changes,
            &self.actor,
            self.request_id.as_deref(),
            outcome,
            self.now,
            limit,
        );
    }

    /// Records an event that is not a version transition (settings changes, failed attempts).
    pub fn note(&mut self, event: &str, version: Option<u32>, outcome: Option<&str>, detail: &str) {
        let ev = store::HistoryEvent {
            time: self.now,
            event: event.to_string(),
            version,
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            outcome: outcome.map(str::to_string),
            detail: detail.to_string(),
        };
        let limit = self.config.history_limit;
        self.entry.push(ev, limit);
    }

    /// Remembers a rotation id's result; stored by the next save.
    pub fn remember(&mut self, record: Idempotency) {
        self.entry.remember(record);
    }

    /// The remembered result of `rotation_id`, if this key has one.
    pub async fn recall(
        &self,
        storage: &dyn Storage,
        rotation_id: &str,
    ) -> Result<Option<Idempotency>, Error> {
        self.entry.recall(storage, rotation_id).await
    }

    fn note_retired(&mut self, changes: &[Change]) {
        let found = super::provider_ops::to_revoke(self.key_ref(), changes, self.provider_kind);
        self.retired.extend(found);
    }

    /// Saves the entry, then revokes at the provider what this operation retired (only once the
    /// retirement is stored, so a crash in between never revokes a key still on record as live).
    pub async fn commit(
        &mut self,
        shared: &Arc<Shared>,
        storage: &dyn Storage,
    ) -> Result<(), Error> {
        self.save(storage).await?;
        self.revoke_retired(shared, storage).await;
        Ok(())
    }

    /// Revokes at the provider the keys this operation retired (best effort; the tick retries).
    pub async fn revoke_retired(&mut self, shared: &Arc<Shared>, storage: &dyn Storage) {
        let retired = std::mem::take(&mut self.retired);
        if retired.is_empty() {
            return;
        }
        let key = self.key_ref();
        let (name, provider) = (key.name.clone(), key.provider.clone());
        super::provider_ops::revoke_retired(shared, storage, &name, provider.as_deref(), retired)
            .await;
    }

    /// Saves the entry (its new history events and rotation ids, then its record), keeping the
    /// lock until dropped. Saving again writes the same data plus what changed since.
    pub async fn save(&self, storage: &dyn Storage) -> Result<(), Error> {
        store::save(storage, &self.entry).await
    }
}

/// Maps a refused transition to its HTTP error: the two-person rule is a 403, broken stored
/// data a 500, everything else a 400 with the state machine's message.
pub fn rotation_error(e: RotationError) -> Error {
    if e.is_forbidden() {
        Error::PermissionDenied(e.to_string())
    } else if matches!(e, RotationError::Inconsistent { .. }) {
        Error::Internal(e.to_string())
    } else {
        Error::BadRequest(e.to_string())
    }
}
