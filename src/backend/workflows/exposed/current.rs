//! A leaked current version. The key is marked exposed first (with its `exposed` event, in one
//! save), so it stays marked, counted and alerted whatever happens next. Then, where the key's
//! provider can create its successor:
//! - two-person rule off: an emergency rotation (a new key created, tested and promoted with
//!   grace 0: the leaked one is revoked at its origin now);
//! - rule on: the new key is staged and tested by the reporter, and the leaked current version
//!   is withdrawn now (revoked, and the previous one with it): the key has no current version,
//!   and `creds/` answers an error naming the pending version, until a different entity
//!   promotes it. Killing access is one person's act; making a value current is not.
//!
//! Without a provider that creates keys (or, under the rule, a reporter with an identity entity
//! to stage for), or when the new key cannot be created or fails its test, the leaked version
//! stays current and marked exposed until a person stages and promotes a new value.

use std::sync::Arc;

use serde_json::{json, Value};

use super::super::locked::{rotation_error, Locked};
use super::super::rotate::rotate;
use super::super::stage::{new_value, note_origin, note_provider_expiry, note_staged_provider};
use super::super::test::run_test;
use super::Report;
use crate::backend::provider_ops;
use crate::backend::record::Exposure;
use crate::backend::shared::Shared;
use crate::framework::{Error, Request, Storage};

/// What the key waits for when the engine could not replace the leaked value.
fn waits_for(two_person: bool) -> &'static str {
    if two_person {
        "a new value staged by one entity (stage/, without value where the provider can create \
         one) and promoted by a different entity with grace_period=0"
    } else {
        "a new value: rotate/ with grace_period=0, or stage/ and promote/ with grace_period=0"
    }
}

/// See the module doc; fills `out` (the match's entry in the answer).
pub(super) async fn respond(
    s: &Arc<Shared>,
    req: &Request,
    mut locked: Locked,
    number: u32,
    report: &Report,
    out: &mut Value,
) -> Result<(), Error> {
    let storage = req.storage.as_ref();
    let name = locked.key_ref().name.clone();
    let two_person = locked.config.require_separate_approver;
    let can_create = match locked.key_ref().provider.clone() {
        Some(p) => provider_ops::can_create(storage, &p).await?,
        None => false,
    };
    let person = locked.actor.identity();
    let now = locked.now;
    locked.key().exposed = Some(Exposure {
        version: number,
        time: now,
        source: report.source.clone(),
        reason: report.reason.clone(),
    });
    locked.commit(s, storage).await?;
    out["action"] = json!("marked_exposed");
    out["retired_versions"] = locked.retired_json();
    if !can_create || (two_person && person.is_none()) {
        out["waits_for"] = json!(waits_for(two_person));
        if two_person && can_create {
            out["detail"] = json!("the reporter has no identity entity to stage the new key for an approver; the leaked version stays current");
        }
        tracing::warn!(key = %name, version = number, "exposed current version marked; it stays current until a new value is promoted");
        return Ok(());
    }
    drop(locked);
    let mut locked = Locked::open(s, req, &name).await?;
    if locked.key_ref().versions.current_version() != Some(number) {
        out["action"] = json!("recorded");
        out["detail"] = json!("another request replaced the version meanwhile");
        return Ok(());
    }
    if let Some(p) = locked.key_ref().versions.pending().map(|p| p.number) {
        let why = format!("discarded for the emergency rotation of exposed version {number}");
        let now = locked.now;
        let changes = locked
            .key()
            .versions
            .discard_pending(now, &why)
            .map_err(rotation_error)?;
        locked.record(&changes, None);
        out["discarded_version"] = json!(p);
    }
    if two_person {
        return withdraw(s, storage, locked, number, person, out).await;
    }
    match rotate(s, storage, locked, None, Some(0), None).await {
        Ok(data) => {
            out["action"] = json!("rotated");
            out["new_version"] = data["version"].clone();
            out["test"] = data["test"].clone();
            out["retired_versions"] = data["retired_versions"].clone();
            tracing::info!(key = %name, version = number, "exposed current version replaced by an emergency rotation");
        }
        Err(e) => {
            out["rotation_error"] = json!(e.to_string());
            out["waits_for"] = json!(waits_for(false));
            tracing::warn!(key = %name, version = number, error = %e, "emergency rotation of an exposed key failed; it stays current, marked exposed");
        }
    }
    Ok(())
}

/// Under the two-person rule: stages and tests a key the provider creates (staged by the
/// reporter), then withdraws the leaked current version; the new one waits for an approver.
/// When the new key cannot be created or fails its test, it is discarded (revoked at the
/// provider) and the leaked version stays current, marked exposed.
async fn withdraw(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
    number: u32,
    person: Option<String>,
    out: &mut Value,
) -> Result<(), Error> {
    let name = locked.key_ref().name.clone();
    let new = match new_value(s, storage, &locked, None).await {
        Ok(new) => new,
        Err(e) => {
            let e = Error::from(e);
            locked.commit(s, storage).await?;
            out["rotation_error"] = json!(e.to_string());
            out["waits_for"] = json!(waits_for(true));
            tracing::warn!(key = %name, error = %e, "could not create the exposed key's successor");
            return Ok(());
        }
    };
    let now = locked.now;
    let staged = locked
        .key()
        .versions
        .stage(new.value, now, person, new.provider_key_id, true)
        .map_err(rotation_error)?;
    locked.record(&staged, None);
    note_staged_provider(&mut locked, &staged);
    note_provider_expiry(&mut locked, &staged, new.provider_expires_time);
    note_origin(&mut locked, &staged, new.origin);
    let tested = run_test(s, storage, &mut locked, None).await;
    match tested {
        Ok((version, result)) if result.outcome.allows_promotion() => {
            let detail =
                format!("exposed: withdrawn at once; version {version} waits for an approver");
            let changes = locked
                .key()
                .versions
                .withdraw_exposed_current(now, &detail)
                .map_err(rotation_error)?;
            locked.record(&changes, None);
            locked.commit(s, storage).await?;
            out["action"] = json!("withdrawn");
            out["pending_version"] = json!(version);
            out["test"] = json!({ "version": version, "outcome": result.outcome.as_str() });
            out["waits_for"] = json!(format!(
                "a different entity to promote/ version {version}; until then creds/ has no value for this key"
            ));
            tracing::warn!(key = %name, version = number, pending = version, "exposed current version withdrawn; its successor waits for an approver");
        }
        other => {
            let message = match &other {
                Ok((_, r)) => format!("the new key's test outcome is {}", r.outcome.as_str()),
                Err(e) => e.to_string(),
            };
            let changes = locked
                .key()
                .versions
                .discard_pending(now, &message)
                .map_err(rotation_error)?;
            locked.record(&changes, None);
            locked.commit(s, storage).await?;
            out["rotation_error"] = json!(message);
            out["waits_for"] = json!(waits_for(true));
        }
    }
    out["retired_versions"] = locked.retired_json();
    provider_ops::settle(storage, new.wal_id.as_deref()).await;
    Ok(())
}
