//! Promoting the pending version, and rolling a rotation back.

use std::sync::Arc;

use serde_json::{json, Value};

use super::locked::{rotation_error, Locked};
use crate::backend::policy;
use crate::backend::shared::Shared;
use crate::backend::view;
use crate::framework::{Error, Storage};
use crate::rotation::{usage, EventKind, TwoPersonRollback, ENTITY_PREFIX};

/// Refuses (400, naming the limit and what sets it) a `grace_period` a request gives beyond the
/// mount's `max_grace_period`, or the key's own `max_grace` when that is lower. Call before
/// anything changes.
pub(crate) fn check_grace_ceiling(locked: &Locked, grace: Option<i64>) -> Result<(), Error> {
    let Some(grace) = grace else {
        return Ok(());
    };
    let (limit, source) = locked.config.grace_ceiling(locked.key_ref().max_grace);
    if grace <= limit {
        return Ok(());
    }
    Err(Error::BadRequest(format!(
        "grace_period: {} is beyond the limit of {} ({source}); give at most {}",
        usage::short_duration(grace),
        usage::short_duration(limit),
        usage::short_duration(limit)
    )))
}

/// Promotes the pending version on a locked key; returns the response data. A version still in
/// its grace window that the promotion revokes early is named in `cut_short`
/// (`{version, grace_expires_time}`), for the caller's warning.
pub(crate) async fn promote(
    shared: &Shared,
    storage: &dyn Storage,
    locked: &mut Locked,
    grace: Option<i64>,
    force: bool,
) -> Result<Value, Error> {
    check_grace_ceiling(locked, grace)?;
    let periods = policy::periods(&shared.schedules, storage, locked.key_ref()).await?;
    let grace = grace.unwrap_or(periods.grace_period);
    let cut_short = locked
        .key_ref()
        .versions
        .previous_in_grace(locked.now)
        .map(|v| json!({ "version": v.number, "grace_expires_time": v.grace_expires_time.map(view::time) }));
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
        "cut_short": cut_short,
    }))
}

/// Undoes the last step of a rotation on an opened key (`rollback/`); returns the response data.
///
/// Discarding a pending version is one person's act. Under the two-person rule, reinstating the
/// previous version is not: the first rollback records a request (`reinstatement_request` in
/// the answer, a `rollback_requested` history event), and a rollback by a different entity
/// performs it; the requester again is a 403. Either needs a token with an identity entity.
pub(crate) async fn rollback(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
) -> Result<Value, Error> {
    let name = locked.key_ref().name.clone();
    let now = locked.now;
    let had_pending = locked.key_ref().versions.pending().map(|p| p.number);
    let person = if locked.config.require_separate_approver && had_pending.is_none() {
        locked.actor.approver()?
    } else {
        None
    };
    let request = locked.key_ref().versions.reinstatement(now).cloned();
    let versions = &mut locked.key().versions;
    let outcome = match &person {
        Some(person) => versions.rollback_two_person(now, person),
        None => versions.rollback(now).map(TwoPersonRollback::Done),
    }
    .map_err(rotation_error)?;
    let (mut changes, requested) = match outcome {
        TwoPersonRollback::Done(changes) => (changes, false),
        TwoPersonRollback::Requested(changes) => (changes, true),
    };
    if let (Some(r), Some(_), false) = (&request, &person, requested) {
        // The history names who asked; the event's actor is who confirmed.
        for c in changes
            .iter_mut()
            .filter(|c| c.event == EventKind::RolledBack)
        {
            c.detail = format!(
                "{}; requested by entity {} at {}",
                c.detail,
                r.requested_by
                    .strip_prefix(ENTITY_PREFIX)
                    .unwrap_or(&r.requested_by),
                view::time(r.requested_time)
            );
        }
    }
    locked.record(&changes, None);
    locked.commit(s, storage).await?;
    let versions = &locked.key_ref().versions;
    let data = json!({
        "current_version": versions.current_version(),
        "discarded_version": had_pending,
        "revoked_versions": changes.iter().filter(|c| c.event.destroys_value()).map(|c| c.version).collect::<Vec<_>>(),
        "reinstatement_request": view::reinstatement_json(versions, now),
        "retired_versions": locked.retired_json(),
    });
    if requested {
        tracing::info!(key = %name, "reinstatement of the previous version requested; another entity must confirm");
    } else {
        tracing::info!(key = %name, "rolled back");
    }
    Ok(data)
}
