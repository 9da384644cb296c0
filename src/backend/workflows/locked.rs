//! A key opened for writing: its lock held, its record checked (and converted if the previous
//! release wrote it), grace expiry applied, changes recorded in its history with the request's
//! actor, then saved (history pages, then the record).
//!
//! A version that retires with a key at a provider gets its revocation intent written before the
//! record that retires it ([`Locked::save`]), and the version shows the revocation as pending
//! until the provider confirms it ([`Locked::commit`] tries at once; recovery retries; the
//! revocation steps are in `locked/revocations.rs`); one whose key the engine does not own is
//! recorded `manual` instead.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backend::policy::Config;
use crate::backend::provider_ops;
use crate::backend::record::{self, Actor, Idempotency, KeyEntry, KeyGuard, KeyState};
use crate::backend::shared::Shared;
use crate::backend::view;
use crate::framework::{Error, Request, Storage};
use crate::rotation::{Change, ProviderRevocation, RotationError};

mod expiry;
mod revocations;

/// How long a revocation at the provider waits after the write that retired the key, when the
/// server runs in a cluster: standbys serve reads from their own replicated storage and apply
/// a write 50-100 ms after the leader (openbao.md), so revoking at once would let a standby
/// serve a value the provider already refuses. Twenty to forty times the lag observed: a
/// margin, not a guarantee (a standby cut off from the leader lags longer and still serves
/// reads). The intent covers a crash or cancellation during the wait.
pub(crate) const STANDBY_SETTLE: Duration = Duration::from_secs(2);

/// How long revocations at the provider wait after their retiring write on this node.
pub(super) async fn revocation_delay(shared: &Shared) -> Duration {
    if shared.system.may_have_standbys().await {
        STANDBY_SETTLE
    } else {
        Duration::ZERO
    }
}

/// A key under its write lock.
pub(crate) struct Locked {
    _guard: KeyGuard,
    /// The key's name as its path gives it: where every write of this operation goes (a record
    /// naming another key is refused when loaded, and again when saved).
    name: String,
    /// The entry as it will be saved.
    pub entry: KeyEntry,
    /// The time of this operation.
    pub now: DateTime<Utc>,
    /// Mount configuration at the time of the operation.
    pub config: Config,
    /// Who is acting.
    pub actor: Actor,
    request_id: Option<String>,
    /// Provider keys retired by this operation and not yet revoked: (version, provider key id).
    pub retired: Vec<(u32, String)>,
    /// Versions retired by this operation whose keys the engine does not own: their
    /// revocation is recorded `manual` (a person's), with no intent.
    pub manual: Vec<u32>,
    /// Whether opening the key already changed it (a grace window had closed).
    pub expired: bool,
    /// Every version this operation retired (value destroyed), grace ends at opening included,
    /// in order: what its answer lists ([`Locked::retired_json`]).
    destroyed: Vec<u32>,
    /// The provider keys that grace ends applied when the key was opened retired: whatever a
    /// failed request rolls back, these stay retired and are revoked ([`Locked::restore`]).
    expired_retired: Vec<(u32, String)>,
    /// The versions those grace ends retired whose keys the engine does not own: their `manual`
    /// records stay too.
    expired_manual: Vec<u32>,
    /// Intents of revocations the provider confirmed (and of expiry updates it answered),
    /// settled once the record says so.
    confirmed_intents: Vec<String>,
    /// Provider-side expiry updates requested by this operation's saves (`locked/expiry.rs`).
    expiry_requests: Vec<expiry::ExpiryRequest>,
    /// The mount's shared state (schedules, for a reinstated key's provider-side lifetime).
    shared: Arc<Shared>,
}

impl Locked {
    /// Locks and loads key `name` for `req` (400 if it does not exist), and retires a previous
    /// version whose grace has ended, recording that as the scheduler's doing.
    pub(crate) async fn open(
        shared: &Arc<Shared>,
        req: &Request,
        name: &str,
    ) -> Result<Locked, Error> {
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
    pub(crate) async fn open_as(
        shared: &Arc<Shared>,
        storage: &dyn Storage,
        name: &str,
        actor: Actor,
        request_id: Option<String>,
    ) -> Result<Locked, Error> {
        let guard = shared.locks.lock(name).await;
        Self::with_guard(shared, storage, name, actor, request_id, guard).await
    }

    /// Same as [`Locked::open_as`], with the key's lock already held.
    pub(crate) async fn with_guard(
        shared: &Arc<Shared>,
        storage: &dyn Storage,
        name: &str,
        actor: Actor,
        request_id: Option<String>,
        guard: KeyGuard,
    ) -> Result<Locked, Error> {
        let mut entry = record::load_existing(storage, name).await?;
        if entry.is_previous_format() {
            // Initialize converts every record; one it has not reached yet is converted here,
            // under the key's lock, before anything changes it.
            record::migrate_key(storage, name).await?;
            entry = record::load_existing(storage, name).await?;
        }
        let config = Config::load(storage).await?;
        let mut locked = Locked {
            _guard: guard,
            name: name.to_string(),
            entry,
            now: Utc::now(),
            config,
            actor,
            request_id: request_id.filter(|r| !r.is_empty()),
            retired: Vec::new(),
            manual: Vec::new(),
            expired: false,
            expired_retired: Vec::new(),
            expired_manual: Vec::new(),
            destroyed: Vec::new(),
            confirmed_intents: Vec::new(),
            expiry_requests: Vec::new(),
            shared: Arc::clone(shared),
        };
        locked.expired = locked.expire();
        locked.expired_retired = locked.retired.clone();
        locked.expired_manual = locked.manual.clone();
        Ok(locked)
    }

    /// Retires previous versions whose grace has ended (as the scheduler).
    pub(crate) fn expire(&mut self) -> bool {
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

    /// Puts back `before` (the entry as this operation found it once opened, taken after the
    /// grace ends applied then), for a request that failed: everything it changed since is
    /// dropped, but the retirements applied when the key was opened stay, with any revocation
    /// already requested for them, and are revoked by the next save like any other.
    pub(crate) fn restore(&mut self, before: KeyEntry) {
        let requested: Vec<(u32, ProviderRevocation)> = self
            .expired_retired
            .iter()
            .filter_map(|(number, _)| {
                let v = self.entry.key.versions.get(*number)?;
                Some((*number, v.provider_revocation.clone()?))
            })
            .collect();
        self.entry = before;
        for (number, revocation) in requested {
            if let Some(v) = self.entry.key.versions.versions.get_mut(&number) {
                v.provider_revocation.get_or_insert(revocation);
            }
        }
        self.retired = self.expired_retired.clone();
        self.manual = self.expired_manual.clone();
        let expired = &self.entry.key.versions;
        self.destroyed
            .retain(|n| expired.get(*n).is_some_and(|v| !v.state.keeps_value()));
    }

    /// The versions this operation retired, as its answer lists them (see
    /// [`view::retired_versions_json`]): call after the commit, so each shows its revocation's
    /// status at the provider as it stands.
    pub(crate) fn retired_json(&self) -> serde_json::Value {
        view::retired_versions_json(&self.entry.key.versions, &self.destroyed)
    }

    /// The key.
    pub(crate) fn key(&mut self) -> &mut KeyState {
        &mut self.entry.key
    }

    /// The key, read-only.
    pub(crate) fn key_ref(&self) -> &KeyState {
        &self.entry.key
    }

    /// Records `changes` made by the actor, with an optional outcome.
    pub(crate) fn record(&mut self, changes: &[Change], outcome: Option<&str>) {
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
    pub(crate) fn note(
        &mut self,
        event: &str,
        version: Option<u32>,
        outcome: Option<&str>,
        detail: &str,
    ) {
        let ev = record::HistoryEvent {
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
    pub(crate) fn remember(&mut self, record: Idempotency) {
        self.entry.remember(record);
    }

    /// The remembered result of `rotation_id`, if this key has one.
    pub(crate) async fn recall(
        &self,
        storage: &dyn Storage,
        rotation_id: &str,
    ) -> Result<Option<Idempotency>, Error> {
        self.entry.recall(storage, rotation_id).await
    }

    fn note_retired(&mut self, changes: &[Change]) {
        for c in changes.iter().filter(|c| c.event.destroys_value()) {
            if !self.destroyed.contains(&c.version) {
                self.destroyed.push(c.version);
            }
        }
        let found = self.key_ref().versions.provider_revocations(changes);
        self.retired.extend(found);
        let manual = self.key_ref().versions.manual_revocations(changes);
        self.manual.extend(manual);
    }

    /// Saves the entry, then tries at once to revoke at the provider what this operation
    /// retired, recording the outcome on the versions (a failure stays pending for recovery).
    ///
    /// In a cluster the periodic tick does not wait [`STANDBY_SETTLE`] per key (with eight keys
    /// at a time that would cap a tick at a few hundred grace ends): what it retires is revoked
    /// by the recovery of its intents on a later tick, long after the standbys applied it.
    /// Provider-side expiry updates (`locked/expiry.rs`) are tried at once in every case.
    pub(crate) async fn commit(
        &mut self,
        shared: &Arc<Shared>,
        storage: &dyn Storage,
    ) -> Result<(), Error> {
        self.save(storage).await?;
        let revoked = if self.actor == Actor::Scheduler && shared.system.may_have_standbys().await {
            // Expiry updates still go now: they only set an end that is still ahead (a usage-aware
            // postponement a minute before the old end must reach the provider before it).
            self.retired.clear();
            false
        } else {
            self.attempt_revocations(shared, storage).await
        };
        if self.attempt_expiry_updates(shared, storage).await || revoked {
            self.save(storage).await?;
        }
        // Only now: had the record not been saved, the intent is what lets recovery finish it.
        self.settle_confirmed(storage).await;
        Ok(())
    }

    /// Deletes the intents of the revocations the provider confirmed (call once nothing but
    /// the intent would tell recovery the key is still to be revoked).
    async fn settle_confirmed(&mut self, storage: &dyn Storage) {
        for id in std::mem::take(&mut self.confirmed_intents) {
            provider_ops::settle(storage, Some(&id)).await;
        }
    }

    /// Writes the revocation intents for what this operation retired and the expiry intents
    /// for grace ends that moved (`locked/expiry.rs`), then the entry (one write), keeping the
    /// lock until dropped. The intents come first, so no crash or cancellation between the
    /// writes can store a retirement, or a moved grace end, without its intent.
    pub(crate) async fn save(&mut self, storage: &dyn Storage) -> Result<(), Error> {
        self.request_revocations(storage).await?;
        let shared = Arc::clone(&self.shared);
        self.request_expiry_updates(&shared, storage).await?;
        record::save_at(storage, &self.name, &self.entry).await
    }
}

/// Maps a refused transition to its HTTP error: the two-person rule is a 403, broken stored
/// data a 500, everything else a 400 with the state machine's message.
pub(super) fn rotation_error(e: RotationError) -> Error {
    if e.is_forbidden() {
        Error::PermissionDenied(e.to_string())
    } else if matches!(e, RotationError::Inconsistent { .. }) {
        Error::Internal(e.to_string())
    } else {
        Error::BadRequest(e.to_string())
    }
}
