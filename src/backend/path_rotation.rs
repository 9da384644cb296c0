//! The four rotation steps, each its own path so ACL policies can give them to different
//! people: `stage/`, `test/`, `promote/`, `rollback/`.

use std::sync::Arc;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::locked::{rotation_error, Locked};
use super::store::Idempotency;
use super::{bind, intents, provider_ops, view, Shared};
use crate::framework::{
    generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path,
    Request, Response,
};
use crate::rotation::{validate_key_value, EventKind, SecretValue, TestResult};

/// Longest key value (api.md: at most 4096 bytes), checked by the framework on every field
/// that takes one.
pub(super) const MAX_KEY_VALUE_LEN: usize = crate::rotation::MAX_KEY_VALUE_BYTES;
/// Longest `rotation_id`.
pub(super) const MAX_ROTATION_ID_LEN: usize = 128;
/// Longest `provider_key_id` (providers' ids are far shorter).
pub(super) const MAX_PROVIDER_KEY_ID_LEN: usize = 256;

fn name_field() -> Field {
    Field::new("name", FieldType::Name, "Name of the key.").required()
}

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![
        Path::new(&format!("stage/{}", generic_name_regex("name")))
            .field(name_field())
            .field(Field::new("value", FieldType::String, "The new key. Without it the provider is asked to create one (400 if it cannot). Write-only.").sensitive().max_len(MAX_KEY_VALUE_LEN))
            .field(Field::new("rotation_id", FieldType::String, "Idempotency id: a retry with the same id and input returns the first result instead of staging twice. At most 128 characters.").max_len(MAX_ROTATION_ID_LEN))
            .field(Field::new("provider_key_id", FieldType::String, "The provider's id for a value given here (not secret), so the engine can deactivate it at the provider later (Anthropic: the API key id). Checked with the key's provider (admin_key needed): an id whose provider record does not match the value is a 400. At most 256 letters, digits, '_', '-' or '.'.").max_len(MAX_PROVIDER_KEY_ID_LEN).id_alphabet())
            .strict()
            .operation(Operation::Update, "Stage a new pending version.", bind(shared, stage))
            .help(STAGE_SYNOPSIS, STAGE_DESCRIPTION),
        Path::new(&format!("test/{}", generic_name_regex("name")))
            .field(name_field())
            .field(Field::new("version", FieldType::Int, "Version to test (default: the pending version)."))
            .operation(Operation::Update, "Test a version against the provider and record the outcome.", bind(shared, test))
            .help(TEST_SYNOPSIS, TEST_DESCRIPTION),
        Path::new(&format!("promote/{}", generic_name_regex("name")))
            .field(name_field())
            .field(Field::new("grace_period", FieldType::Duration, "Grace for the old current version (default: the key's grace period; 0 revokes it at once)."))
            .field(Field::new("force", FieldType::Bool, "Promote even if the pending version's last test did not pass (recorded).").default(json!(false)))
            .strict()
            .operation(Operation::Update, "Promote the pending version to current.", bind(shared, promote))
            .help(PROMOTE_SYNOPSIS, PROMOTE_DESCRIPTION),
        Path::new(&format!("rollback/{}", generic_name_regex("name")))
            .field(name_field())
            .strict()
            .operation(Operation::Update, "Discard the pending version, or restore the previous one within its grace window.", bind(shared, rollback))
            .help(ROLLBACK_SYNOPSIS, ROLLBACK_DESCRIPTION),
    ]
}

/// SHA-256 over the operation and its inputs, to tell a retry from a different request.
pub(super) fn input_digest(operation: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(operation.as_bytes());
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Returns the remembered response for a retried rotation id, or an error if the id was used
/// with different input. `None` when the id is new.
pub(super) async fn replay(
    locked: &Locked,
    storage: &dyn crate::framework::Storage,
    rotation_id: Option<&str>,
    operation: &str,
    digest: &str,
) -> Result<Option<Value>, Error> {
    let Some(id) = rotation_id else {
        return Ok(None);
    };
    match locked.recall(storage, id).await? {
        None => Ok(None),
        Some(r) if r.operation == operation && r.input_digest == digest => {
            Ok(Some(r.response.clone()))
        }
        Some(r) => Err(Error::BadRequest(format!(
            "rotation_id {id:?} was already used for a {} with different input",
            r.operation
        ))),
    }
}

/// A value to stage and where it came from.
pub(super) struct NewValue {
    pub value: SecretValue,
    pub provider_key_id: Option<String>,
    pub engine_created: bool,
    /// The create intent to settle once the version is stored.
    pub wal_id: Option<String>,
}

/// The value to stage: the request's, validated, or one the provider creates.
pub(super) async fn new_value(
    shared: &Arc<Shared>,
    storage: &dyn crate::framework::Storage,
    locked: &Locked,
    value: Option<String>,
) -> Result<NewValue, Error> {
    match value {
        Some(v) => {
            validate_key_value(&v).map_err(|e| Error::BadRequest(format!("value: {e}")))?;
            Ok(NewValue {
                value: SecretValue::new(v),
                provider_key_id: None,
                engine_created: false,
                wal_id: None,
            })
        }
        None => {
            let created = provider_ops::create(shared, storage, locked.key_ref()).await?;
            Ok(NewValue {
                value: created.value,
                provider_key_id: Some(created.provider_key_id),
                engine_created: true,
                wal_id: Some(created.wal_id),
            })
        }
    }
}

async fn stage(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let value = d.get_string("value");
    let rotation_id = d.get_string("rotation_id").filter(|r| !r.is_empty());
    let provided_id = d.get_string("provider_key_id").filter(|i| !i.is_empty());
    // The id is part of the input only when given, so digests of earlier stages still match.
    let mut parts = vec![value.as_deref().unwrap_or("")];
    parts.extend(provided_id.as_deref());
    let digest = input_digest("stage", &parts);
    let mut locked = Locked::open(&s, &req, &name).await?;
    if locked.config.require_separate_approver {
        // Before anything else: under the two-person rule a stage counts only from a person.
        locked.actor.approver()?;
    }
    if let Some(previous) = replay(
        &locked,
        req.storage.as_ref(),
        rotation_id.as_deref(),
        "stage",
        &digest,
    )
    .await?
    {
        return Ok(Some(Response::with_data(previous)));
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
    let new = new_value(&s, req.storage.as_ref(), &locked, value).await?;
    if let Some(id) = &provided_id {
        // Only an id the provider shows to be this value is recorded (and so ever revoked).
        let provider = locked.key_ref().provider.clone();
        super::ownership::verify_provider_key_id(
            &s,
            req.storage.as_ref(),
            provider.as_deref(),
            id,
            &new.value,
        )
        .await?;
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
    if provided_id.is_some() {
        if let Some(v) = locked.key().versions.versions.get_mut(&version) {
            v.provider_key_verified = true;
        }
    }
    locked.record(&changes, None);
    note_staged_provider(&mut locked, &changes);
    let staged = locked.key_ref().versions.get(version).expect("staged");
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
    locked.commit(&s, req.storage.as_ref()).await?;
    intents::settle(req.storage.as_ref(), new.wal_id.as_deref()).await;
    tracing::info!(key = %name, version, "version staged");
    Ok(Some(Response::with_data(data)))
}

/// Records on the version a stage just created the provider configuration its key belongs to,
/// so its revocation goes there whatever the key names later.
pub(super) fn note_staged_provider(locked: &mut Locked, changes: &[crate::rotation::Change]) {
    let provider = locked.key_ref().provider.clone();
    for c in changes.iter().filter(|c| c.event == EventKind::Staged) {
        if let Some(v) = locked.key().versions.versions.get_mut(&c.version) {
            v.provider = provider.clone();
        }
    }
}

/// Runs a provider test on `version` (or the pending one) and records it on the locked key.
pub(super) async fn run_test(
    shared: &Arc<Shared>,
    storage: &dyn crate::framework::Storage,
    locked: &mut Locked,
    version: Option<u32>,
) -> Result<(u32, TestResult), Error> {
    let versions = &locked.key_ref().versions;
    let target = match version {
        Some(n) => versions.get(n),
        None => versions.pending(),
    };
    let Some(target) = target else {
        return Err(match version {
            Some(n) => Error::BadRequest(format!("version {n} does not exist")),
            None => Error::BadRequest("no version is pending; stage one first".into()),
        });
    };
    let number = target.number;
    let Some(value) = target.value.clone() else {
        return Err(Error::BadRequest(format!(
            "version {number} is {} and has no value to test",
            target.state.as_str()
        )));
    };
    let provider = locked.key_ref().provider.clone();
    let result = provider_ops::test(shared, storage, provider.as_deref(), &value).await?;
    let changes = locked
        .key()
        .versions
        .record_test(Some(number), result.clone())
        .map_err(rotation_error)?;
    let outcome = result.outcome.as_str();
    *locked
        .key()
        .stats
        .test_outcomes
        .entry(outcome.to_string())
        .or_default() += 1;
    locked.record(&changes, Some(outcome));
    Ok((number, result))
}

async fn test(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let version = match d.get_int("version") {
        Some(n) => Some(
            u32::try_from(n)
                .map_err(|_| Error::BadRequest("version must be a positive integer".into()))?,
        ),
        None => None,
    };
    let mut locked = Locked::open(&s, &req, &name).await?;
    let (number, result) = run_test(&s, req.storage.as_ref(), &mut locked, version).await?;
    locked.commit(&s, req.storage.as_ref()).await?;
    tracing::info!(key = %name, version = number, outcome = result.outcome.as_str(), "version tested");
    Ok(Some(Response::with_data(json!({
        "version": number,
        "outcome": result.outcome.as_str(),
        "status_code": result.status_code,
        "detail": result.detail,
    }))))
}

/// Promotes the pending version on a locked key; returns the response data.
pub(super) async fn do_promote(
    shared: &Shared,
    storage: &dyn crate::framework::Storage,
    locked: &mut Locked,
    grace: Option<i64>,
    force: bool,
) -> Result<Value, Error> {
    let periods = view::periods(shared, storage, locked.key_ref()).await?;
    let grace = grace.unwrap_or(periods.grace_period);
    let two_person = locked.config.require_separate_approver;
    let promoter = if two_person {
        locked.actor.approver()?
    } else {
        locked.actor.identity()
    };
    let now = locked.now;
    let old_current = locked.key_ref().versions.current_version();
    let changes = locked
        .key()
        .versions
        .promote(now, grace, force, promoter.as_deref(), two_person)
        .map_err(rotation_error)?;
    locked.record(&changes, None);
    let key = locked.key();
    key.stats.rotations += 1;
    key.last_error = None;
    key.auto = Default::default();
    let versions = &locked.key_ref().versions;
    let previous = old_current.and_then(|n| versions.get(n));
    Ok(json!({
        "version": versions.current_version(),
        "previous_version": old_current,
        "previous_state": previous.map(|p| p.state.as_str()),
        "grace_expires_time": previous.and_then(|p| p.grace_expires_time).filter(|_| previous.is_some_and(|p| p.value.is_some())).map(view::time),
        "forced": changes.iter().any(|c| c.event == EventKind::Promoted && c.detail == "forced"),
    }))
}

async fn promote(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let grace = d
        .is_set("grace_period")
        .then(|| d.get_duration("grace_period"))
        .flatten();
    let force = d.get_bool("force").unwrap_or(false);
    let mut locked = Locked::open(&s, &req, &name).await?;
    let data = do_promote(&s, req.storage.as_ref(), &mut locked, grace, force).await?;
    locked.commit(&s, req.storage.as_ref()).await?;
    tracing::info!(key = %name, "version promoted");
    Ok(Some(Response::with_data(data)))
}

async fn rollback(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let mut locked = Locked::open(&s, &req, &name).await?;
    let now = locked.now;
    let had_pending = locked.key_ref().versions.pending().map(|p| p.number);
    let changes = locked
        .key()
        .versions
        .rollback(now)
        .map_err(rotation_error)?;
    locked.record(&changes, None);
    locked.commit(&s, req.storage.as_ref()).await?;
    let data = json!({
        "current_version": locked.key_ref().versions.current_version(),
        "discarded_version": had_pending,
        "revoked_versions": changes.iter().filter(|c| c.event.destroys_value()).map(|c| c.version).collect::<Vec<_>>(),
    });
    tracing::info!(key = %name, "rolled back");
    Ok(Some(Response::with_data(data)))
}

const STAGE_SYNOPSIS: &str = "Stage a new version of a key.";
const STAGE_DESCRIPTION: &str = "\
Creates the pending version from value, or without value asks the key's provider to create a key \
(400 if it cannot). At most one version is pending; a second stage is a 400 naming it. With \
rotation_id, a retry with the same id and input returns the first result.";
const TEST_SYNOPSIS: &str = "Test a version against the provider.";
const TEST_DESCRIPTION: &str = "\
Checks the pending version (or version=N) with the provider's cheapest authenticated call and \
records the outcome: passed, bad_key (the provider rejects the key), unfunded (valid but out of \
quota or credit), provider_unavailable (rate limit, 5xx, timeout: says nothing about the key) or \
skipped (no provider). Returns version, outcome, status_code and detail.";
const PROMOTE_SYNOPSIS: &str = "Promote the pending version.";
const PROMOTE_DESCRIPTION: &str = "\
The pending version becomes current; the old current becomes previous, valid until now + \
grace_period (0 revokes it at once). A version still previous from an earlier rotation is revoked. \
Refused unless the pending version's last test passed or was skipped, or force=true (recorded). \
With require_separate_approver, the entity that staged the version cannot promote it (403), and \
stage/ and promote/ need a service token of an identity entity (403 otherwise).";
const ROLLBACK_SYNOPSIS: &str = "Undo a rotation.";
const ROLLBACK_DESCRIPTION: &str = "\
With a pending version, discards it (failed; revoked at the provider if the engine created it). \
Without one, if the previous version is inside its grace window, makes it current again and \
revokes the version that replaced it. Otherwise 400.";
