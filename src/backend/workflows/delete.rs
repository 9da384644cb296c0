//! The `keys/` delete workflow: every value destroyed, revocations owed written down before the
//! record goes (intents for the keys the engine may revoke, kept entries for the manual ones),
//! the history archived, the record removed, then the revocations tried once.

use std::sync::Arc;

use super::locked::Locked;
use crate::backend::provider_ops;
use crate::backend::record;
use crate::backend::shared::Shared;
use crate::framework::{Error, Request};

/// Deletes key `name` if it exists: every value destroyed, each retired version's revocation
/// intent written and each manual revocation nobody acknowledged kept (they outlive the
/// record), the history archived with who deleted the key and
/// when, then the record removed and the revocations tried. The versions it retired, as
/// [`Locked::retired_json`] lists them (`None` if there was no such key).
pub(crate) async fn delete(
    shared: &Arc<Shared>,
    req: &Request,
    name: &str,
) -> Result<Option<serde_json::Value>, Error> {
    let storage = req.storage.as_ref();
    if record::load(storage, name).await?.is_none() {
        return Ok(None);
    }
    let mut locked = Locked::open(shared, req, name).await?;
    let now = locked.now;
    let changes = locked.key().versions.destroy_all(now);
    locked.record(&changes, None);
    // The revocation intents first (they outlive the record; the revocations left to a person
    // are recorded with them, so their events come before `deleted`); then the history survives
    // the key: store the last events and archive the log pointing at them, then remove the key.
    // The record itself is never rewritten: a crash or refused write in between leaves the live
    // record as it was (which points at the same history; the archive's entry of its own
    // incarnation is ignored and replaced by the next delete) until the next delete, and
    // recovery drops the intents of versions still live.
    locked.request_revocations(storage).await?;
    // The manual revocations nobody acknowledged outlive the record too (their entries first).
    provider_ops::keep_of_deleted(storage, &locked.entry).await?;
    locked.note("deleted", None, None, "key deleted; values destroyed");
    let log = record::write_final_history(storage, name, &locked.entry).await?;
    record::archive_history(storage, name, log, &locked.actor, now).await?;
    storage.delete(&record::key_path(name)).await?;
    record::forget_replays(storage, name, &locked.entry.replays).await;
    // What the tick's notices remember goes with the key (one left by a crash here names this
    // incarnation, which a key created again under the name does not trust).
    record::forget_notices(storage, name).await;
    locked.revoke_deleted(shared, storage).await;
    tracing::info!(key = %name, "key deleted");
    Ok(Some(locked.retired_json()))
}
