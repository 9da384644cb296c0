//! `acknowledge/`: an operator records that they revoked by hand a retired key the engine does
//! not own (its revocation `manual`), so the revocation reads `acknowledged` and leaves the
//! manual count (metric, report, alert). Nothing is asked of the provider: the engine cannot
//! check it, and the record says who said so.
//!
//! A deleted key's manual revocation (kept by the delete, `provider_ops/manual.rs`) is
//! acknowledged the same way: its entry is removed, and the deleted incarnation's kept history
//! gains the event. A live key of the name takes precedence unless `deleted` is asked.

use std::sync::Arc;

use serde_json::{json, Value};

use super::locked::Locked;
use crate::backend::provider_ops;
use crate::backend::record::{self, Actor, HistoryEvent};
use crate::backend::shared::Shared;
use crate::backend::view;
use crate::framework::{Error, Request, Storage};
use crate::rotation::ProviderRevocation;

/// Acknowledges version `number`'s manual revocation of key `name`: the live key's, unless
/// `deleted` is asked or no live key has that name, in which case the newest deleted
/// incarnation's that still waits for it (see [`acknowledge_deleted`]).
pub(crate) async fn acknowledge_named(
    s: &Arc<Shared>,
    req: &Request,
    name: &str,
    number: u32,
    reason: Option<&str>,
    deleted: bool,
) -> Result<Value, Error> {
    let storage = req.storage.as_ref();
    if !deleted && record::load(storage, name).await?.is_some() {
        let locked = Locked::open(s, req, name).await?;
        return acknowledge(s, storage, locked, number, reason).await;
    }
    acknowledge_deleted(s, req, name, number, reason).await
}

/// Who an acknowledgement names: the entity, else the display name.
fn who(actor: &Actor) -> String {
    match actor {
        Actor::Scheduler => "scheduler".to_string(),
        actor @ Actor::Client { display_name, .. } => {
            actor.identity().unwrap_or_else(|| display_name.clone())
        }
    }
}

/// Records that a deleted key's manual revocation of version `number` was done by hand (the
/// newest deleted incarnation of `name` whose version waits for it): a
/// `provider_revocation_acknowledged` event in that incarnation's kept history, then the
/// revocation leaves the counts. A 400 that changes nothing if no deleted incarnation has one.
async fn acknowledge_deleted(
    s: &Arc<Shared>,
    req: &Request,
    name: &str,
    number: u32,
    reason: Option<&str>,
) -> Result<Value, Error> {
    let storage = req.storage.as_ref();
    let _guard = s.locks.lock(name).await;
    let now = chrono::Utc::now();
    let actor = Actor::of(req);
    let who = who(&actor);
    let Some(manual) = provider_ops::deleted_manual_of(storage, name)
        .await?
        .into_iter()
        .filter(|m| m.version == number)
        .max_by_key(|m| m.incarnation)
    else {
        return Err(Error::BadRequest(format!(
            "no deleted key {name:?} has a manual revocation of version {number} waiting to be \
             acknowledged"
        )));
    };
    let mut revocation = ProviderRevocation::manual(
        &manual.provider,
        manual.provider_key_id.as_deref(),
        manual.requested_time,
        &manual.reason,
    );
    revocation
        .acknowledge(now, &who, reason)
        .map_err(|why| Error::BadRequest(format!("version {number} of key {name:?}: {why}")))?;
    let detail = match reason {
        Some(r) => format!(
            "revoked at the provider by hand after the key was deleted, as {who} records: {r}"
        ),
        None => {
            format!("revoked at the provider by hand after the key was deleted, as {who} records")
        }
    };
    let event = HistoryEvent {
        time: now,
        event: "provider_revocation_acknowledged".to_string(),
        version: Some(number),
        actor,
        request_id: Some(req.id.clone()).filter(|r| !r.is_empty()),
        outcome: Some("acknowledged".to_string()),
        detail,
    }
    .bounded();
    // The evidence first: a failure after it leaves the revocation counted, to acknowledge again.
    record::append_to_deleted_history(storage, name, manual.incarnation, &[event]).await?;
    provider_ops::forget_deleted_manual(storage, &manual).await?;
    tracing::info!(key = %name, version = number, incarnation = manual.incarnation, "manual revocation of a deleted key acknowledged");
    Ok(json!({
        "version": number,
        "deleted": true,
        "incarnation": manual.incarnation,
        "provider_revocation": view::revocation_json(&revocation),
    }))
}

/// Records on version `number` of the opened key that its manual revocation was done by hand,
/// with the actor and `reason`, and a `provider_revocation_acknowledged` history event. A 400
/// that changes nothing for a version the key does not have, one whose revocation is not
/// manual, or one already acknowledged.
pub(crate) async fn acknowledge(
    s: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
    number: u32,
    reason: Option<&str>,
) -> Result<Value, Error> {
    let now = locked.now;
    let name = locked.key_ref().name.clone();
    let who = who(&locked.actor);
    let Some(v) = locked.key().versions.versions.get_mut(&number) else {
        return Err(Error::BadRequest(format!(
            "key {name:?} has no version {number}"
        )));
    };
    let Some(revocation) = v.provider_revocation.as_mut() else {
        return Err(Error::BadRequest(format!(
            "version {number} of key {name:?} has no revocation at a provider to acknowledge \
             (state {})",
            v.state
        )));
    };
    revocation
        .acknowledge(now, &who, reason)
        .map_err(|why| Error::BadRequest(format!("version {number} of key {name:?}: {why}")))?;
    let shown = view::revocation_json(revocation);
    let detail = match reason {
        Some(r) => format!("revoked at the provider by hand, as {who} records: {r}"),
        None => format!("revoked at the provider by hand, as {who} records"),
    };
    locked.note(
        "provider_revocation_acknowledged",
        Some(number),
        Some("acknowledged"),
        &detail,
    );
    locked.commit(s, storage).await?;
    tracing::info!(key = %name, version = number, "manual revocation acknowledged");
    Ok(json!({ "version": number, "provider_revocation": shown }))
}
