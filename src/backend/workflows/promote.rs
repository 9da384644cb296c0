//! Promoting the pending version, and rolling a rotation back.

use std::sync::Arc;

use serde_json::{json, Value};

use super::locked::{rotation_error, Locked};
use crate::backend::policy;
use crate::backend::shared::Shared;
use crate::backend::view;
use crate::framework::{Error, Storage};
use crate::rotation::EventKind;

/// Promotes the pending version on a locked key; returns the response data.
pub(crate) async fn promote(
    shared: &Shared,
    storage: &dyn Storage,
    locked: &mut Locked,
    grace: Option<i64>,
    force: bool,
) -> Result<Value, Error> {
    let periods = policy::periods(&shared.schedules, storage, locked.key_ref()).await?;
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

/// Undoes the last step of a rotation on an opened key (`rollback/`); returns the response data.
pub(crate) async fn rollback(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
) -> Result<Value, Error> {
    let name = locked.key_ref().name.clone();
    let now = locked.now;
    let had_pending = locked.key_ref().versions.pending().map(|p| p.number);
    let changes = locked
        .key()
        .versions
        .rollback(now)
        .map_err(rotation_error)?;
    locked.record(&changes, None);
    locked.commit(s, storage).await?;
    let data = json!({
        "current_version": locked.key_ref().versions.current_version(),
        "discarded_version": had_pending,
        "revoked_versions": changes.iter().filter(|c| c.event.destroys_value()).map(|c| c.version).collect::<Vec<_>>(),
    });
    tracing::info!(key = %name, "rolled back");
    Ok(data)
}
