//! The cut-over controls during a grace window: end it now (`finalize/`), or keep the previous
//! version valid longer (`extend/`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::locked::{rotation_error, Locked};
use crate::backend::policy;
use crate::backend::shared::Shared;
use crate::backend::view;
use crate::framework::{Error, Storage};
use crate::rotation::usage;

/// Ends the previous version's grace window now: it is revoked here and, where the engine can,
/// at its provider (through the same durable intent as a grace end). Returns the response data.
pub(crate) async fn finalize(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
) -> Result<Value, Error> {
    let now = locked.now;
    let changes = locked
        .key()
        .versions
        .finalize(now)
        .map_err(rotation_error)?;
    locked.record(&changes, None);
    locked.commit(s, storage).await?;
    let number = changes[0].version;
    let version = locked.key_ref().versions.get(number);
    tracing::info!(key = %locked.key_ref().name, version = number, "grace window finalized");
    Ok(json!({
        "version": number,
        "state": version.map(|v| v.state.as_str()),
        "revoked_time": version.and_then(|v| v.revoked_time).map(view::time),
        "provider_revocation": version
            .and_then(|v| v.provider_revocation.as_ref())
            .map(|r| r.status()),
    }))
}

/// Refuses (400) an end beyond the key's `max_grace` after the previous version's planned end.
async fn check_max_grace(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    locked: &Locked,
    until: DateTime<Utc>,
) -> Result<(), Error> {
    let Some(previous) = locked.key_ref().versions.previous_in_grace(locked.now) else {
        return Ok(()); // the state machine says why
    };
    let max_grace = policy::periods(&s.schedules, storage, locked.key_ref())
        .await?
        .max_grace;
    match usage::grace_limit(previous, max_grace) {
        Some(limit) if until > limit => Err(Error::BadRequest(format!(
            "the new end {} is beyond the key's max_grace ({}) after the planned end {} of version {}'s grace window: at most {}",
            view::time(until),
            usage::short_duration(max_grace),
            view::time(previous.planned_grace_expires_time.or(previous.grace_expires_time).unwrap_or(limit)),
            previous.number,
            view::time(limit)
        ))),
        _ => Ok(()),
    }
}

/// Keeps the previous version valid until `until` (later than its current grace end); `reason`
/// goes into the history with who did it. Returns the response data.
pub(crate) async fn extend(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
    until: DateTime<Utc>,
    reason: Option<&str>,
) -> Result<Value, Error> {
    let now = locked.now;
    let before = locked
        .key_ref()
        .versions
        .previous_in_grace(now)
        .and_then(|v| v.grace_expires_time);
    check_max_grace(s, storage, &locked, until).await?;
    let mut changes = locked
        .key()
        .versions
        .extend_grace(now, until)
        .map_err(rotation_error)?;
    if let Some(reason) = reason {
        for c in &mut changes {
            c.detail = format!("{}: {reason}", c.detail);
        }
    }
    locked.record(&changes, None);
    locked.commit(s, storage).await?;
    let number = changes[0].version;
    tracing::info!(key = %locked.key_ref().name, version = number, "grace window extended");
    Ok(json!({
        "version": number,
        "previous_grace_expires_time": before.map(view::time),
        "grace_expires_time": view::time(until),
    }))
}
