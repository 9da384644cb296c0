//! Staging a new version: from the client's value or one the provider creates, under the
//! two-person rule, with `rotation_id` replays and the ownership check of a given provider id.

use std::sync::Arc;

use serde_json::{json, Value};

use super::locked::{rotation_error, Locked};
use super::replay::{input_digest, replay};
use crate::backend::provider_ops;
use crate::backend::record::Idempotency;
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};
use crate::rotation::{validate_key_value, Change, EventKind, Origin, SecretValue};

/// A value to stage and where it came from.
pub(super) struct NewValue {
    pub value: SecretValue,
    pub provider_key_id: Option<String>,
    pub engine_created: bool,
    /// The create intent to settle once the version is stored.
    pub wal_id: Option<String>,
    /// When a key the provider created expires there on its own.
    pub provider_expires_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Where a key the provider created lives.
    pub origin: Option<Origin>,
}

/// The value to stage: the request's, validated, or one the provider creates (a failure says
/// whether the provider's key-expiry policy refused it).
pub(super) async fn new_value(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    locked: &Locked,
    value: Option<String>,
) -> Result<NewValue, provider_ops::CreateFailure> {
    match value {
        Some(v) => {
            validate_key_value(&v).map_err(|e| Error::BadRequest(format!("value: {e}")))?;
            Ok(NewValue {
                value: SecretValue::new(v),
                provider_key_id: None,
                engine_created: false,
                wal_id: None,
                provider_expires_time: None,
                origin: None,
            })
        }
        None => {
            let created = provider_ops::create(shared, storage, locked.key_ref()).await?;
            Ok(NewValue {
                value: created.value,
                provider_key_id: Some(created.provider_key_id),
                engine_created: true,
                wal_id: Some(created.wal_id),
                provider_expires_time: created.expires_at,
                origin: Some(created.origin),
            })
        }
    }
}

/// What a stage asks for.
pub(crate) struct StageInput {
    /// The new value; without it the provider creates one.
    pub value: Option<String>,
    /// Idempotency id.
    pub rotation_id: Option<String>,
    /// The provider's id for `value`, checked with the provider.
    pub provider_key_id: Option<String>,
}

/// Stages a new pending version on an opened key (`stage/`); returns the response data.
pub(crate) async fn stage(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
    input: StageInput,
) -> Result<Value, Error> {
    let StageInput {
        value,
        rotation_id,
        provider_key_id: provided_id,
    } = input;
    let name = locked.key_ref().name.clone();
    // The id is part of the input only when given, so digests of earlier stages still match.
    let mut parts = vec![value.as_deref().unwrap_or("")];
    parts.extend(provided_id.as_deref());
    let digest = input_digest("stage", &parts);
    if locked.config.require_separate_approver {
        // Before anything else: under the two-person rule a stage counts only from a person.
        locked.actor.approver()?;
    }
    if let Some(previous) =
        replay(&locked, storage, rotation_id.as_deref(), "stage", &digest).await?
    {
        return Ok(previous);
    }
    // Refuse a second stage before asking a provider to create anything.
    if let Some(p) = locked.key_ref().versions.pending() {
        return Err(Error::BadRequest(format!(
            "version {} is already pending; promote it or roll it back first",
            p.number
        )));
    }
    if provided_id.is_some() && value.is_none() {
        return Err(Error::BadRequest(
            "provider_key_id goes with value: a key the provider creates gets its id from the provider".into(),
        ));
    }
    let new = new_value(s, storage, &locked, value).await?;
    let provider_expires_time = new.provider_expires_time;
    let mut origin = new.origin;
    let mut ownership = None;
    if let Some(id) = &provided_id {
        // Only an id the provider shows to be this value is recorded; only one possession of
        // the value proves is ever revoked, and it lives where the configuration that proved it
        // points.
        let provider = locked.key_ref().provider.clone();
        let (proof, found) =
            provider_ops::prove_and_locate(s, storage, provider.as_deref(), id, &new.value).await?;
        ownership = Some(proof);
        origin = found;
    }
    let stager = locked.actor.identity();
    let now = locked.now;
    let changes = match locked.key().versions.stage(
        new.value,
        now,
        stager,
        new.provider_key_id.or(provided_id.clone()),
        new.engine_created,
    ) {
        Ok(c) => c,
        // For example a value that a live version already holds: a 400 that changes nothing. A
        // key the provider created for this attempt stays under its intent, which the tick
        // settles by revoking it.
        Err(e) => return Err(rotation_error(e)),
    };
    let version = changes
        .iter()
        .find(|c| c.event == EventKind::Staged)
        .map(|c| c.version)
        .unwrap_or_default();
    if let Some(ownership) = ownership {
        if let Some(v) = locked.key().versions.versions.get_mut(&version) {
            v.provider_key_verified = true;
            v.possession_proven = ownership == provider_ops::Ownership::Proven;
        }
    }
    locked.record(&changes, None);
    note_staged_provider(&mut locked, &changes);
    note_provider_expiry(&mut locked, &changes, provider_expires_time);
    note_origin(&mut locked, &changes, origin);
    let staged =
        locked.key_ref().versions.get(version).ok_or_else(|| {
            Error::Internal(format!("staged version {version} is not in the record"))
        })?;
    let data = json!({
        "version": version,
        "state": staged.state.as_str(),
        "fingerprint": staged.fingerprint,
        "provider_key_id": staged.provider_key_id,
    });
    if let Some(id) = rotation_id {
        locked.remember(Idempotency {
            rotation_id: id,
            operation: "stage".into(),
            input_digest: digest,
            response: data.clone(),
        });
    }
    locked.commit(s, storage).await?;
    provider_ops::settle(storage, new.wal_id.as_deref()).await;
    tracing::info!(key = %name, version, "version staged");
    Ok(data)
}

/// Records on the version a stage just created the provider configuration its key belongs to,
/// so its revocation goes there whatever the key names later.
pub(super) fn note_staged_provider(locked: &mut Locked, changes: &[Change]) {
    let provider = locked.key_ref().provider.clone();
    for c in changes.iter().filter(|c| c.event == EventKind::Staged) {
        if let Some(v) = locked.key().versions.versions.get_mut(&c.version) {
            v.provider = provider.clone();
        }
    }
}

/// Records on the version a stage just created when its key expires at the provider.
pub(super) fn note_provider_expiry(
    locked: &mut Locked,
    changes: &[Change],
    expires: Option<chrono::DateTime<chrono::Utc>>,
) {
    for c in changes.iter().filter(|c| c.event == EventKind::Staged) {
        if let Some(v) = locked.key().versions.versions.get_mut(&c.version) {
            v.provider_expires_time = expires;
        }
    }
}

/// Records on the version a stage just created where its key lives (set once: a key created by
/// the engine, or an imported id the provider proved). Never changed afterwards.
pub(super) fn note_origin(locked: &mut Locked, changes: &[Change], origin: Option<Origin>) {
    for c in changes.iter().filter(|c| c.event == EventKind::Staged) {
        if let Some(v) = locked.key().versions.versions.get_mut(&c.version) {
            if v.origin.is_none() {
                v.origin = origin.clone();
            }
        }
    }
}
