//! `rotate/:name` (stage, test and promote in one call) and `verify/:name`.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::locked::Locked;
use super::path_rotation::{
    do_promote, input_digest, new_value, note_staged_provider, replay, run_test, NewValue,
    MAX_KEY_VALUE_LEN, MAX_ROTATION_ID_LEN,
};
use super::store::{self, Actor, Idempotency};
use super::{bind, intents, Shared};
use crate::framework::{
    generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path,
    Request, Response, Storage,
};
use crate::rotation::{TestOutcome, TestResult};

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![
        Path::new(&format!("rotate/{}", generic_name_regex("name")))
            .field(Field::new("name", FieldType::Name, "Name of the key.").required())
            .field(Field::new("value", FieldType::String, "The new key. Without it the provider is asked to create one. Write-only.").sensitive().max_len(MAX_KEY_VALUE_LEN))
            .field(Field::new("grace_period", FieldType::Duration, "Grace for the old current version (default: the key's grace period; 0 for an emergency rotation that leaves only the new key valid)."))
            .field(Field::new("rotation_id", FieldType::String, "Idempotency id: a retry with the same id and input returns the first result. At most 128 characters.").max_len(MAX_ROTATION_ID_LEN))
            .strict()
            .operation(Operation::Update, "Stage, test and promote a new version in one call.", bind(shared, rotate))
            .help(ROTATE_SYNOPSIS, ROTATE_DESCRIPTION),
        Path::new(&format!("verify/{}", generic_name_regex("name")))
            .field(Field::new("name", FieldType::Name, "Name of the key.").required())
            .field(Field::new("value", FieldType::String, "The value to check. Write-only.").sensitive().max_len(MAX_KEY_VALUE_LEN))
            .operation(Operation::Update, "Check whether a value is a valid version of the key.", bind(shared, verify))
            .help(VERIFY_SYNOPSIS, VERIFY_DESCRIPTION),
    ]
}

/// The error a failed one-call rotation returns: 503 when the provider said nothing about the
/// key, 400 when it refused the key.
fn failed_rotation(result: &TestResult) -> Error {
    let message = format!(
        "rotation aborted: the new key's test outcome is {}{}; the current version is unchanged",
        result.outcome.as_str(),
        if result.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", result.detail)
        }
    );
    match result.outcome {
        TestOutcome::ProviderUnavailable => Error::Coded {
            status: 503,
            message,
        },
        _ => Error::BadRequest(message),
    }
}

async fn rotate(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let value = d.get_string("value");
    let grace = d
        .is_set("grace_period")
        .then(|| d.get_duration("grace_period"))
        .flatten();
    let rotation_id = d.get_string("rotation_id").filter(|r| !r.is_empty());
    let digest = input_digest(
        "rotate",
        &[
            value.as_deref().unwrap_or(""),
            &grace.map(|g| g.to_string()).unwrap_or_default(),
        ],
    );
    let locked = Locked::open(&s, &req, &name).await?;
    if let Some(previous) = replay(
        &locked,
        req.storage.as_ref(),
        rotation_id.as_deref(),
        "rotate",
        &digest,
    )
    .await?
    {
        return Ok(Some(Response::with_data(previous)));
    }
    if locked.config.require_separate_approver {
        return Err(Error::PermissionDenied(
            "require_separate_approver is set: a rotation needs stage/ and promote/ by two different entities, so rotate/ is refused".into(),
        ));
    }
    let remember = rotation_id.map(|id| (id, digest));
    let data = rotate_locked(&s, req.storage.as_ref(), locked, value, grace, remember).await?;
    Ok(Some(Response::with_data(data)))
}

/// Stages (from `value` or the provider), tests and promotes on an opened key; used by
/// `rotate/` and by automatic rotation. On failure at any step the current version is untouched,
/// the attempt is recorded with `last_error` (and, for the scheduler, the back-off set before
/// the attempt), and a key the provider created for it is revoked at once (see [`discard`]).
pub(super) async fn rotate_locked(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
    value: Option<String>,
    grace: Option<i64>,
    remember: Option<(String, String)>,
) -> Result<serde_json::Value, Error> {
    let name = locked.key_ref().name.clone();
    if let Some(p) = locked.key_ref().versions.pending() {
        return Err(Error::BadRequest(format!(
            "version {} is already pending; promote it or roll it back first",
            p.number
        )));
    }
    let before = locked.entry.clone();
    let new = match new_value(s, storage, &locked, value).await {
        Ok(new) => new,
        Err(e) => {
            // The provider could not create a key: record the attempt (and, for the scheduler,
            // the back-off set before it). Bad input from a client stays a 400 that changes
            // nothing.
            if matches!(e, Error::Coded { .. }) || locked.actor == Actor::Scheduler {
                let message = e.to_string();
                locked.key().last_error = Some(message.clone());
                locked.note("failed", None, None, &message);
                if let Err(save) = locked.save(storage).await {
                    tracing::warn!(key = %name, error = %save, "could not record a failed rotation");
                }
                tracing::warn!(key = %name, error = %message, "rotation failed before staging; current version unchanged");
            }
            return Err(e);
        }
    };
    let wal_id = new.wal_id.clone();
    if !new.engine_created {
        // A client's value that cannot be staged (for example one a live version holds) is a
        // 400 that changes nothing; a key the provider created is handled as a failure below.
        locked
            .key_ref()
            .versions
            .check_stage(&new.value)
            .map_err(super::locked::rotation_error)?;
    }
    match stage_test_promote(s, storage, &mut locked, new, grace).await {
        Ok(data) => {
            if let Some((id, digest)) = remember {
                locked.remember(Idempotency {
                    rotation_id: id,
                    operation: "rotate".into(),
                    input_digest: digest,
                    response: data.clone(),
                });
            }
            locked.commit(s, storage).await?;
            intents::settle(storage, wal_id.as_deref()).await;
            let version = data["version"].as_u64().unwrap_or_default();
            tracing::info!(key = %name, version, "key rotated");
            Ok(data)
        }
        Err((err, result)) => {
            discard(
                s,
                storage,
                locked,
                before,
                result.as_ref(),
                &err.to_string(),
                wal_id,
            )
            .await?;
            Err(err)
        }
    }
}

/// The steps after a new value is in hand: stage it, test it, promote it. An error comes with
/// the test result when the test ran.
async fn stage_test_promote(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    locked: &mut Locked,
    new: NewValue,
    grace: Option<i64>,
) -> Result<serde_json::Value, (Error, Option<TestResult>)> {
    let stager = locked.actor.identity();
    let now = locked.now;
    let staged = locked
        .key()
        .versions
        .stage(
            new.value,
            now,
            stager,
            new.provider_key_id,
            new.engine_created,
        )
        .map_err(|e| (super::locked::rotation_error(e), None))?;
    locked.record(&staged, None);
    note_staged_provider(locked, &staged);
    let (version, result) = match run_test(s, storage, locked, None).await {
        Ok((v, r)) if r.outcome.allows_promotion() => (v, r),
        Ok((_, r)) => return Err((failed_rotation(&r), Some(r))),
        Err(e) => return Err((e, None)),
    };
    let mut data = do_promote(s, storage, locked, grace, false)
        .await
        .map_err(|e| (e, Some(result.clone())))?;
    data["test"] = json!({
        "version": version,
        "outcome": result.outcome.as_str(),
        "status_code": result.status_code,
        "detail": result.detail,
    });
    Ok(data)
}

/// Ends a one-call rotation that failed after a new value was in hand; the current version is
/// never touched. A key the provider refused (`bad_key`, `unfunded`) stays on record as a
/// `failed` version with its value destroyed (and its provider key revoked like any retired
/// one). Otherwise (`provider_unavailable`, an error, a refused promotion) the key is saved
/// exactly as it was before, plus a `failed` history event and `last_error`, and a key the
/// provider created for the attempt is revoked there at once; if that fails, its create intent
/// stays for recovery.
async fn discard(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
    before: store::KeyEntry,
    result: Option<&TestResult>,
    message: &str,
    create_intent: Option<String>,
) -> Result<(), Error> {
    let name = locked.key_ref().name.clone();
    let outcome = result.map(|r| r.outcome.as_str());
    let keep_record = result.is_some_and(|r| {
        !matches!(
            r.outcome,
            TestOutcome::ProviderUnavailable | TestOutcome::Passed | TestOutcome::Skipped
        )
    });
    let mut settle_create = true;
    if keep_record {
        let now = locked.now;
        let changes = locked
            .key()
            .versions
            .discard_pending(now, message)
            .map_err(super::locked::rotation_error)?;
        locked.record(&changes, outcome);
    } else {
        let created = locked
            .key_ref()
            .versions
            .pending()
            .filter(|p| p.engine_created)
            .and_then(|p| Some((p.provider.clone()?, p.provider_key_id.clone()?)));
        locked.entry = before;
        locked.retired.clear();
        if let Some(r) = result {
            *locked
                .key()
                .stats
                .test_outcomes
                .entry(r.outcome.as_str().to_string())
                .or_default() += 1;
        }
        locked.note("failed", None, outcome, message);
        if let Some((provider, id)) = created {
            match intents::revoke_at(s, storage, &provider, &id).await {
                Ok(()) => {
                    tracing::info!(key = %name, "revoked the key created for the failed rotation")
                }
                Err(e) => {
                    settle_create = false;
                    tracing::warn!(key = %name, error = %e, "could not revoke the key created for the failed rotation; recovery will");
                }
            }
        }
    }
    locked.key().last_error = Some(message.to_string());
    locked.commit(s, storage).await?;
    if settle_create {
        intents::settle(storage, create_intent.as_deref()).await;
    }
    tracing::warn!(key = %name, outcome = outcome.unwrap_or("error"), "rotation failed; current version unchanged");
    Ok(())
}

async fn verify(_s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let value = d
        .get_string("value")
        .ok_or_else(|| Error::BadRequest("value is required".into()))?;
    let Some(key) = store::load_key(req.storage.as_ref(), &name).await? else {
        return Err(Error::BadRequest(format!("key {name:?} does not exist")));
    };
    let data = match key.versions.verify(&value, Utc::now()) {
        Some((version, state)) => {
            json!({"valid": true, "version": version, "state": state.as_str()})
        }
        None => json!({"valid": false}),
    };
    Ok(Some(Response::with_data(data)))
}

const ROTATE_SYNOPSIS: &str = "Rotate a key in one call.";
const ROTATE_DESCRIPTION: &str = "\
Stages a new version (from value, or created by the provider), tests it and promotes it. If the \
test does not pass the current version is untouched: a key the provider refused is kept as a \
failed version (value destroyed) and the call fails with 400 (bad_key, unfunded); when the \
provider is unavailable nothing changes but the history and the call fails with 503. \
grace_period=0 is an emergency rotation: only the new key stays valid. With \
require_separate_approver set, use stage/ and promote/ instead.";
const VERIFY_SYNOPSIS: &str = "Check a value against a key's live versions.";
const VERIFY_DESCRIPTION: &str = "\
Returns valid and, when valid, the version and its state. Accepts the current version, a pending \
one, and the previous version while inside its grace window; compares in constant time.";
