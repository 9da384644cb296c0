//! The whole rotation in one call (`rotate/` and automatic rotation): stage, test, promote;
//! and what a failure at any step leaves behind.

use std::sync::Arc;

use serde_json::json;

use super::locked::{rotation_error, Locked};
use super::promote::promote;
use super::stage::{new_value, note_origin, note_provider_expiry, note_staged_provider, NewValue};
use super::test::run_test;
use crate::backend::provider_ops;
use crate::backend::record::{self, Actor, Idempotency};
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};
use crate::rotation::{TestOutcome, TestResult};

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

/// Stages (from `value` or the provider), tests and promotes on an opened key; used by
/// `rotate/` and by automatic rotation. On failure at any step the current version is untouched,
/// the attempt is recorded with `last_error` (and, for the scheduler, the back-off set before
/// the attempt), and a key the provider created for it is revoked at once (see [`discard`]).
pub(crate) async fn rotate(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
    value: Option<String>,
    grace: Option<i64>,
    remember: Option<(String, String)>,
) -> Result<serde_json::Value, Error> {
    let name = locked.key_ref().name.clone();
    super::promote::check_grace_ceiling(&locked, grace)?;
    if let Some(p) = locked.key_ref().versions.pending() {
        return Err(Error::BadRequest(format!(
            "version {} is already pending; promote it or roll it back first",
            p.number
        )));
    }
    let before = locked.entry.clone();
    let new = match new_value(s, storage, &locked, value).await {
        Ok(new) => new,
        Err(failure) => {
            let policy_refused = failure.is_policy_refusal();
            let e = Error::from(failure);
            // The provider could not create a key: record the attempt (and, for the scheduler,
            // the back-off set before it), under the number the new version was to get. Bad
            // input from a client stays a 400 that changes nothing.
            if matches!(e, Error::Coded { .. }) || locked.actor == Actor::Scheduler {
                let message = e.to_string();
                let actor = locked.actor.clone();
                locked.key().stats.count_rotation_failure(&actor);
                let outcome = if policy_refused {
                    if let Some(p) = locked.key_ref().provider.clone() {
                        locked.key().stats.count_policy_refusal(&p);
                    }
                    record::OUTCOME_POLICY_REFUSED
                } else {
                    record::OUTCOME_NOT_STAGED
                };
                locked.key().last_error = Some(message.clone());
                let planned = locked.key_ref().versions.next_version;
                locked.note("failed", Some(planned), Some(outcome), &message);
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
            .map_err(rotation_error)?;
    }
    match stage_test_promote(s, storage, &mut locked, new, grace).await {
        Ok(mut data) => {
            let remembered = |response: &serde_json::Value| {
                remember.clone().map(|(id, digest)| Idempotency {
                    rotation_id: id,
                    operation: "rotate".into(),
                    input_digest: digest,
                    response: response.clone(),
                })
            };
            if let Some(record) = remembered(&data) {
                locked.remember(record);
            }
            locked.commit(s, storage).await?;
            data["retired_versions"] = locked.retired_json();
            // A replay returns the whole first answer: the retired versions' revocations are
            // known only now (the rotation itself is remembered by the commit, whatever
            // happens next).
            if let Some(record) = remembered(&data) {
                locked.remember(record);
                locked.save(storage).await?;
            }
            provider_ops::settle(storage, wal_id.as_deref()).await;
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
    let provider_expires_time = new.provider_expires_time;
    let origin = new.origin;
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
        .map_err(|e| (rotation_error(e), None))?;
    locked.record(&staged, None);
    note_staged_provider(locked, &staged);
    note_provider_expiry(locked, &staged, provider_expires_time);
    note_origin(locked, &staged, origin);
    let (version, result) = match run_test(s, storage, locked, None).await {
        Ok((v, r)) if r.outcome.allows_promotion() => (v, r),
        Ok((_, r)) => return Err((failed_rotation(&r), Some(r))),
        Err(e) => return Err((e, None)),
    };
    let mut data = promote(s, storage, locked, grace, false)
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
/// exactly as it was when opened (grace ends applied then stay, with their revocations: see
/// [`Locked::restore`]), plus a `failed` history event and `last_error`, and a key the
/// provider created for the attempt is revoked there at once; if that fails, its create intent
/// stays for recovery.
async fn discard(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
    before: record::KeyEntry,
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
            .map_err(rotation_error)?;
        locked.record(&changes, outcome);
    } else {
        let created = locked
            .key_ref()
            .versions
            .pending()
            .filter(|p| p.engine_created)
            .and_then(|p| {
                let place = p.origin.as_ref().map(|o| o.place.clone());
                Some((p.provider.clone()?, p.provider_key_id.clone()?, place))
            });
        // The attempt's version: the one it staged (gone with the restore; a stage takes the
        // next number) or, if staging never happened, the number it was to get.
        let next = locked.key_ref().versions.next_version;
        locked.restore(before);
        let version = locked.key_ref().versions.next_version;
        let outcome = match next > version {
            true => outcome,
            false => outcome.or(Some(record::OUTCOME_NOT_STAGED)),
        };
        if let Some(r) = result {
            *locked
                .key()
                .stats
                .test_outcomes
                .entry(r.outcome.as_str().to_string())
                .or_default() += 1;
        }
        locked.note("failed", Some(version), outcome, message);
        if let Some((provider, id, place)) = created {
            match provider_ops::revoke_at(s, storage, &provider, &id, place.as_ref()).await {
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
    let actor = locked.actor.clone();
    locked.key().stats.count_rotation_failure(&actor);
    locked.key().last_error = Some(message.to_string());
    locked.commit(s, storage).await?;
    if settle_create {
        provider_ops::settle(storage, create_intent.as_deref()).await;
    }
    tracing::warn!(key = %name, outcome = outcome.unwrap_or("error"), "rotation failed; current version unchanged");
    Ok(())
}
