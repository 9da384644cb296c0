//! The `keys/` workflows: create a managed key from the value in use today (its first
//! version), apply settings to it, and delete it (destroying its values, revoking at their
//! provider what the engine may revoke, and keeping its history).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::locked::Locked;
use crate::backend::policy::{self, CadenceInput, Config};
use crate::backend::provider_ops;
use crate::backend::record::{self, Actor, AutoState, KeyEntry, KeyState, Stats};
use crate::backend::shared::Shared;
use crate::framework::{Error, Request, Storage};
use crate::rotation::{KeyVersions, SecretValue};

/// Settings a create or an update sets (`None`: left as it is), validated before anything is
/// written.
pub(crate) struct KeySettings {
    /// `Some(None)` removes the provider.
    pub provider: Option<Option<String>>,
    pub schedule: Option<String>,
    pub cadence: CadenceInput,
    /// The overrides of the schedule's periods: `Some(None)` removes one (the schedule's
    /// applies again).
    pub rotation_window: Option<Option<i64>>,
    pub grace_period: Option<Option<i64>>,
    pub usage_quiet_period: Option<Option<i64>>,
    pub max_grace: Option<Option<i64>>,
    pub auto_rotate: Option<bool>,
    pub custom_metadata: Option<BTreeMap<String, String>>,
}

impl KeySettings {
    /// Sets what these settings set on `key`; the names of the settings changed.
    pub(crate) fn apply(self, key: &mut KeyState) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if let Some(p) = self.provider {
            key.provider = p;
            changed.push("provider");
        }
        if let Some(v) = self.schedule {
            key.schedule = v;
            changed.push("schedule");
        }
        changed.extend(policy::apply_to_key(
            key,
            &self.cadence,
            self.rotation_window,
        ));
        if let Some(v) = self.grace_period {
            key.grace_period = v;
            changed.push("grace_period");
        }
        if let Some(v) = self.usage_quiet_period {
            key.usage_quiet_period = v;
            changed.push("usage_quiet_period");
        }
        if let Some(v) = self.max_grace {
            key.max_grace = v;
            changed.push("max_grace");
        }
        if let Some(v) = self.auto_rotate {
            key.auto_rotate = v;
            changed.push("auto_rotate");
        }
        if let Some(v) = self.custom_metadata {
            key.custom_metadata = v;
            changed.push("custom_metadata");
        }
        changed
    }
}

/// Checks references: the provider and schedule exist, auto_rotate has a provider that can
/// create keys.
pub(crate) async fn check_references(storage: &dyn Storage, key: &KeyState) -> Result<(), Error> {
    let schedule = policy::require_schedule(storage, "schedule", &key.schedule).await?;
    policy::check_key(key, &schedule)?;
    if let Some(p) = &key.provider {
        if !provider_ops::exists(storage, p).await? {
            return Err(Error::BadRequest(format!(
                "provider: provider {p:?} does not exist (see providers/)"
            )));
        }
    }
    if key.auto_rotate {
        let can = match &key.provider {
            Some(p) => provider_ops::can_create(storage, p).await?,
            None => false,
        };
        if !can {
            return Err(Error::BadRequest(
                "auto_rotate requires a provider that can create keys (openai with admin_key and project_id, or openrouter with admin_key)".into(),
            ));
        }
    }
    Ok(())
}

/// A key to create, its input already checked by the path.
pub(crate) struct NewKey {
    pub name: String,
    /// The API key in use today: version 1.
    pub value: String,
    /// When the key was really created at the provider (default: now).
    pub created_time: Option<DateTime<Utc>>,
    /// The provider's id of the value, recorded only once the provider shows it is this value.
    pub provider_key_id: Option<String>,
    pub settings: KeySettings,
}

/// Creates a key (400 if the name is taken); the key as stored and the time it was created.
pub(crate) async fn create(
    shared: &Shared,
    req: &Request,
    new: NewKey,
) -> Result<(KeyState, DateTime<Utc>), Error> {
    let storage = req.storage.as_ref();
    let name = new.name;
    let config = Config::load(storage).await?;

    let _guard = shared.locks.lock(&name).await;
    // Taken under the lock, so the history's events stay in time order when creates and other
    // changes of one name wait for each other (a delete, then a create of the same name).
    let now = Utc::now();
    let created_time = new.created_time.unwrap_or(now);
    if record::load(storage, &name).await?.is_some() {
        return Err(Error::BadRequest(format!(
            "key {name:?} already exists; update changes its settings, stage/ and rotate/ its value"
        )));
    }
    let value = SecretValue::new(new.value);
    let (versions, changes) = KeyVersions::create(value.clone(), created_time, now);
    let mut key = KeyState {
        name: name.clone(),
        provider: None,
        schedule: config.default_schedule.clone(),
        rotation_period: None,
        grace_period: None,
        rotation_schedule: None,
        rotation_window: None,
        usage_quiet_period: None,
        max_grace: None,
        auto_rotate: false,
        custom_metadata: Default::default(),
        versions,
        last_error: None,
        idempotency: Vec::new(),
        auto: AutoState::default(),
        stats: Stats::default(),
    };
    new.settings.apply(&mut key);
    check_references(storage, &key).await?;
    if let Some(id) = new.provider_key_id {
        // Only an id the provider shows to be this value is recorded (and so ever revoked).
        let provider = key.provider.clone();
        provider_ops::verify_provider_key_id(shared, storage, provider.as_deref(), &id, &value)
            .await?;
        if let Some(v) = key.versions.versions.get_mut(&1) {
            v.provider_key_id = Some(id);
            v.provider_key_verified = true;
        }
    }
    // Version 1's key lives at the key's provider: its revocation goes there.
    if let Some(v) = key.versions.versions.get_mut(&1) {
        v.provider = key.provider.clone();
    }

    // A name created again is a new key: a fresh history (the deleted ones stay readable).
    let log = record::fresh_history(storage, &name).await?;
    let mut entry = KeyEntry::new(key, log);
    entry.record(
        &changes,
        &Actor::of(req),
        Some(&req.id),
        None,
        now,
        config.history_limit,
    );
    record::save(storage, &entry).await?;
    tracing::info!(key = %name, "key created");
    Ok((entry.key, now))
}

/// Deletes key `name` if it exists: every value destroyed, each retired version's revocation
/// intent written (they outlive the record), the history archived with who deleted the key and
/// when, then the record removed and the revocations tried.
pub(crate) async fn delete(shared: &Arc<Shared>, req: &Request, name: &str) -> Result<(), Error> {
    let storage = req.storage.as_ref();
    if record::load(storage, name).await?.is_none() {
        return Ok(());
    }
    let mut locked = Locked::open(shared, req, name).await?;
    let now = locked.now;
    let changes = locked.key().versions.destroy_all(now);
    locked.record(&changes, None);
    locked.note("deleted", None, None, "key deleted; values destroyed");
    // The revocation intents first (they outlive the record); then the history survives the
    // key: store the last events and archive the log pointing at them, then remove the key. A
    // crash in between leaves a live record (which points at the same history; the archive's
    // entry of its own incarnation is ignored and replaced by the next delete) that wins until
    // the next delete, and recovery drops the intents of versions still live.
    locked.request_revocations(storage).await?;
    let stored = record::write(storage, &locked.entry).await?;
    record::archive_history(storage, name, stored.log, &locked.actor, now).await?;
    storage.delete(&record::key_path(name)).await?;
    record::forget_replays(storage, name, &stored.replays).await;
    locked.revoke_deleted(shared, storage).await;
    tracing::info!(key = %name, "key deleted");
    Ok(())
}
