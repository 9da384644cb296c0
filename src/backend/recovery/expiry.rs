//! Recovery of expiry intents (`provider_ops/expiry.rs`): a provider-side expiry the record asks
//! for but the provider may not have been told (a crash, a timeout, a cluster's tick leaving it
//! to recovery). Asked again while the stored record still wants exactly that expiry; dropped
//! when the record moved on (a newer intent covers the new end), was never written, or the
//! end has passed (the revocation at the grace end covers it).

use std::sync::Arc;

use chrono::Utc;

use super::{back_off, claim};
use crate::backend::provider_ops::{decode, update_expiry_at, ExpiryFailure, ExpiryIntent};
use crate::backend::record::{self, Actor};
use crate::backend::shared::Shared;
use crate::backend::workflows::Locked;
use crate::framework::{Error, Storage, WalEntry, WalOutcome};

pub(super) async fn recover_expiry(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    id: &str,
    entry: &WalEntry,
) -> Result<WalOutcome, Error> {
    let mut intent: ExpiryIntent = decode(entry)?;
    let now = Utc::now();
    let guard = match claim(shared, storage, id, &intent.key, &intent.retry, now).await? {
        Ok(guard) => guard,
        Err(outcome) => return Ok(outcome),
    };
    let wanted = record::load_key(storage, &intent.key)
        .await?
        .and_then(|k| k.versions.get(intent.version).cloned())
        .is_some_and(|v| intent.still_wanted(&v));
    if !wanted || intent.expires_at <= now {
        return Ok(WalOutcome::Settled);
    }
    let result = update_expiry_at(
        shared,
        storage,
        &intent.provider,
        &intent.provider_key_id,
        &intent.origin,
        intent.expires_at,
    )
    .await;
    let mut locked =
        Locked::with_guard(shared, storage, &intent.key, Actor::Scheduler, None, guard).await?;
    // Only the first of a run of failures is recorded (the back-off repeats them).
    if !matches!(result, Err(ExpiryFailure::Transient(_))) || intent.retry.attempts == 0 {
        locked.note_expiry(intent.version, &intent, &result);
        locked.save(storage).await?;
    }
    match result {
        Err(ExpiryFailure::Transient(e)) => {
            intent.retry.failed(now);
            back_off(storage, id, entry, &intent, &e).await
        }
        _ => Ok(WalOutcome::Settled),
    }
}

#[cfg(test)]
mod tests;
