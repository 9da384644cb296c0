//! `acknowledge/`: an operator records that they revoked by hand a retired key the engine does
//! not own (its revocation `manual`), so the revocation reads `acknowledged` and leaves the
//! manual count (metric, report, alert). Nothing is asked of the provider: the engine cannot
//! check it, and the record says who said so.

use std::sync::Arc;

use serde_json::{json, Value};

use super::locked::Locked;
use crate::backend::record::Actor;
use crate::backend::shared::Shared;
use crate::backend::view;
use crate::framework::{Error, Storage};

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
    let who = match &locked.actor {
        Actor::Scheduler => "scheduler".to_string(),
        actor @ Actor::Client { display_name, .. } => {
            actor.identity().unwrap_or_else(|| display_name.clone())
        }
    };
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
