//! The `keys/` workflows: create a managed key from the value in use today or from a key its
//! provider creates (its first version: current, or under the two-person rule pending until a
//! different entity promotes it) and apply settings to it. Deleting it is `delete.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::backend::policy::{self, CadenceInput, Config};
use crate::backend::provider_ops;
use crate::backend::record::{self, Actor, AutoState, KeyEntry, KeyState, Stats};
use crate::backend::shared::Shared;
use crate::framework::{Error, Request, Storage};
use crate::rotation::{EventKind, KeyVersions, SecretValue, TestOutcome, TestResult};

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
    pub health_check_interval: Option<Option<i64>>,
    pub expiry_warning: Option<Option<i64>>,
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
        if let Some(v) = self.health_check_interval {
            key.health_check_interval = v;
            changed.push("health_check_interval");
        }
        if let Some(v) = self.expiry_warning {
            key.expiry_warning = v;
            changed.push("expiry_warning");
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
    provider_ops::check_lifetime(storage, key, &schedule).await?;
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
    /// The API key in use today: version 1. `None`: the key's provider creates version 1.
    pub value: Option<String>,
    /// When the key was really created at the provider (default: now).
    pub created_time: Option<DateTime<Utc>>,
    /// The provider's id of the value, recorded only once the provider shows it is this value.
    pub provider_key_id: Option<String>,
    pub settings: KeySettings,
}

/// What a create made: the key as stored, when, and the test of a key the provider created.
pub(crate) struct Created {
    pub key: KeyState,
    pub now: DateTime<Utc>,
    pub test: Option<TestResult>,
}

/// Version 1 before it is stored: its value and what is known of it.
struct First {
    value: SecretValue,
    /// The provider's id: verified with the provider, or given by it for a key it created.
    provider_key_id: Option<String>,
    engine_created: bool,
    /// Whether possession of the value proved a given id (see `provider_ops::Ownership`).
    possession_proven: bool,
    provider_expires_time: Option<DateTime<Utc>>,
    /// The test of a key the provider created (passed: anything else stops the create).
    test: Option<TestResult>,
    /// The create intent to settle once version 1 is stored.
    wal_id: Option<String>,
    /// Where the key lives: created there, or its id proved there.
    origin: Option<crate::rotation::Origin>,
}

/// A key with `name`'s defaults and no version yet, for settings to apply to; never stored so.
fn blank(name: &str, config: &Config) -> KeyState {
    KeyState {
        name: name.to_string(),
        provider: None,
        schedule: config.default_schedule.clone(),
        rotation_period: None,
        grace_period: None,
        rotation_schedule: None,
        rotation_window: None,
        usage_quiet_period: None,
        max_grace: None,
        health_check_interval: None,
        expiry_warning: None,
        auto_rotate: false,
        custom_metadata: Default::default(),
        versions: KeyVersions {
            versions: Default::default(),
            next_version: 1,
            reinstatement: None,
            withdrawn: None,
        },
        last_error: None,
        idempotency: Vec::new(),
        auto: AutoState::default(),
        stats: Stats::default(),
        exposed: None,
    }
}

/// Creates a key (400 if the name is taken) from the value in use today or, without one, from a
/// key its provider creates and the engine tests first (a key that fails its test is revoked
/// there, and nothing is created).
///
/// Under the two-person rule (`require_separate_approver`) a create is a stage: the creator
/// needs an identity entity (403 otherwise), version 1 is `pending` with the creator as its
/// stager, and the key has no current version until a different entity promotes it. Without
/// the rule version 1 is `current` at once.
pub(crate) async fn create(
    shared: &Arc<Shared>,
    req: &Request,
    new: NewKey,
) -> Result<Created, Error> {
    let storage = req.storage.as_ref();
    let name = new.name;
    let config = Config::load(storage).await?;
    let actor = Actor::of(req);
    let two_person = config.require_separate_approver;
    // Before anything else: under the two-person rule a create counts only from a person.
    let stager = if two_person {
        actor.approver()?
    } else {
        actor.identity()
    };

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
    let mut key = blank(&name, &config);
    new.settings.apply(&mut key);
    check_references(storage, &key).await?;
    let first = match new.value {
        Some(value) => given_value(shared, storage, &key, value, new.provider_key_id).await?,
        None => created_at_provider(shared, storage, &key).await?,
    };

    let (versions, mut changes) = if two_person {
        KeyVersions::create_pending(first.value, created_time, now, stager)
    } else {
        KeyVersions::create(first.value, created_time, now)
    };
    key.versions = versions;
    let provider = key.provider.clone();
    if let Some(v) = key.versions.versions.get_mut(&1) {
        // Version 1's key lives at the key's provider: its revocation goes there.
        v.provider = provider.clone();
        v.provider_key_verified = first.provider_key_id.is_some() && !first.engine_created;
        v.possession_proven = first.possession_proven;
        v.provider_key_id = first.provider_key_id;
        v.engine_created = first.engine_created;
        v.provider_expires_time = first.provider_expires_time;
        v.origin = first.origin;
    }
    if first.engine_created {
        for c in &mut changes {
            c.detail = format!(
                "{}; created at provider {:?}",
                c.detail,
                provider.as_deref().unwrap_or_default()
            );
        }
    }
    let mut tested = Vec::new();
    if let Some(result) = &first.test {
        tested = key
            .versions
            .record_test(Some(1), result.clone())
            .map_err(|e| Error::Internal(e.to_string()))?;
        *key.stats
            .test_outcomes
            .entry(result.outcome.as_str().to_string())
            .or_default() += 1;
    }

    // A name created again is a new key: a fresh history (the deleted ones stay readable).
    let log = record::fresh_history(storage, &name).await?;
    let mut entry = KeyEntry::new(key, log);
    let request_id = Some(req.id.as_str());
    if two_person {
        // The key exists from now on; its first value waits for a second person.
        let ev = record::HistoryEvent {
            time: now,
            event: EventKind::Created.as_str().to_string(),
            version: None,
            actor: actor.clone(),
            request_id: Some(req.id.clone()).filter(|r| !r.is_empty()),
            outcome: None,
            detail: "key created under require_separate_approver: version 1 waits, pending, for a different entity to promote it".into(),
        };
        entry.push(ev, config.history_limit);
    }
    entry.record(
        &changes,
        &actor,
        request_id,
        None,
        now,
        config.history_limit,
    );
    let outcome = first.test.as_ref().map(|t| t.outcome.as_str());
    entry.record(
        &tested,
        &actor,
        request_id,
        outcome,
        now,
        config.history_limit,
    );
    record::save_at(storage, &name, &entry).await?;
    provider_ops::settle(storage, first.wal_id.as_deref()).await;
    if two_person {
        tracing::info!(key = %name, "key created; version 1 is pending until another entity promotes it");
    } else {
        tracing::info!(key = %name, "key created");
    }
    Ok(Created {
        key: entry.key,
        now,
        test: first.test,
    })
}

/// Version 1 from the value in use today, with its provider id once the provider shows it is
/// this value (only one possession of the value proves is ever revoked).
async fn given_value(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    key: &KeyState,
    value: String,
    provider_key_id: Option<String>,
) -> Result<First, Error> {
    let value = SecretValue::new(value);
    let (possession_proven, origin) = match &provider_key_id {
        Some(id) => {
            let provider = key.provider.as_deref();
            let (ownership, origin) =
                provider_ops::prove_and_locate(shared, storage, provider, id, &value).await?;
            (ownership == provider_ops::Ownership::Proven, origin)
        }
        None => (false, None),
    };
    Ok(First {
        value,
        provider_key_id,
        engine_created: false,
        possession_proven,
        provider_expires_time: None,
        test: None,
        wal_id: None,
        origin,
    })
}

/// Version 1 created at the key's provider (under a create intent, as a rotation's) and tested
/// there. A key that does not pass is revoked at once (its intent stays for recovery if that
/// fails) and the create fails with the test's outcome: 503 when the provider was unavailable,
/// 400 when it refused the key.
async fn created_at_provider(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    key: &KeyState,
) -> Result<First, Error> {
    let created = provider_ops::create(shared, storage, key).await?;
    let provider = key.provider.clone().unwrap_or_default();
    let test = provider_ops::test(shared, storage, Some(&provider), &created.value).await;
    let why = match &test {
        Ok(t) if t.outcome.allows_promotion() => None,
        Ok(t) => Some(format!(
            "its test outcome is {}{}",
            t.outcome.as_str(),
            if t.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", t.detail)
            }
        )),
        Err(e) => Some(format!("it could not be tested: {e}")),
    };
    let Some(why) = why else {
        return Ok(First {
            value: created.value,
            provider_key_id: Some(created.provider_key_id),
            engine_created: true,
            possession_proven: false,
            provider_expires_time: created.expires_at,
            test: test.ok(),
            wal_id: Some(created.wal_id),
            origin: Some(created.origin),
        });
    };
    let revoked = match provider_ops::revoke_at(
        shared,
        storage,
        &provider,
        &created.provider_key_id,
        Some(&created.origin.place),
    )
    .await
    {
        Ok(()) => {
            provider_ops::settle(storage, Some(&created.wal_id)).await;
            "it was revoked there".to_string()
        }
        Err(e) => {
            tracing::warn!(key = %key.name, error = %e, "could not revoke the key created for a failed create; recovery will");
            format!("revoking it there failed ({e}); the engine retries")
        }
    };
    tracing::warn!(key = %key.name, "key not created: the key its provider created failed its test");
    let message = format!(
        "key {:?} was not created: the key provider {provider:?} created for it failed: {why}; \
         {revoked}",
        key.name
    );
    Err(match test {
        Ok(t) if t.outcome == TestOutcome::ProviderUnavailable => Error::Coded {
            status: 503,
            message,
        },
        Ok(_) => Error::BadRequest(message),
        Err(e) if e.status() >= 500 => Error::Coded {
            status: e.status(),
            message,
        },
        Err(_) => Error::BadRequest(message),
    })
}
