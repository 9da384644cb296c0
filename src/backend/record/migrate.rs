//! Converts the previous release's records (no `format` field) to this release's layout, on the
//! active node: a key's history moves to pages (`history.rs`), its remembered rotation ids to
//! entries of their own (`replays.rs`), and its record is rewritten with `format` last. Every
//! step rewrites the same data when run again, and a record is only marked migrated once what
//! it points at is stored, so an interrupted migration is finished by the next run.
//!
//! Nothing is dropped: every version and history event stays (old retired versions leave the
//! record at its next change, see `store::trim_retired`). A standby never writes; it reads the
//! previous format as it is until the active node has converted it.
//!
//! Ownership needs no conversion, in either format: a version's `provider_key_verified` (an id
//! whose console hint matched the value) is kept as it was but no longer makes the key the
//! engine's, and `possession_proven` reads `false` where it is absent, so every import recorded
//! before possession proofs is not owned: its retirement is `manual`, never a revocation (one an
//! earlier build left pending becomes `manual` when recovery reaches its intent).

use super::format::{FORMAT, WITHDRAWN_FORMAT};
use super::history;
use super::key::KeyEntry;
use super::locks::KeyLocks;
use super::replays;
use super::store;
use crate::framework::{put_json, Error, Storage};

/// Converts every previous-release record of the mount. A record that cannot be converted (an
/// inconsistent one, left for an operator) is logged and skipped; the others are converted.
/// Returns what failed, each naming its record.
pub(crate) async fn run(locks: &KeyLocks, storage: &dyn Storage) -> Result<Vec<String>, Error> {
    let mut failures = Vec::new();
    for name in store::list_names(storage).await? {
        let _guard = locks.lock(&name).await;
        if let Err(e) = key(storage, &name).await {
            tracing::error!(key = %name, error = %e, "could not migrate the key's record");
            failures.push(format!("{name}: {e}"));
        }
    }
    for name in archived_names(storage).await? {
        let _guard = locks.lock(&name).await;
        if !matches!(store::read(storage, &name).await, Ok(None)) {
            // A previous-release list next to a live key is a leftover of the history that key
            // continued (that release's create); a key created since converted any list.
            continue;
        }
        match history::migrate_archive(storage, &name).await {
            Ok(true) => tracing::info!(key = %name, "archived history migrated"),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(key = %name, error = %e, "could not migrate an archived history");
                failures.push(format!("history of {name}: {e}"));
            }
        }
    }
    Ok(failures)
}

async fn archived_names(storage: &dyn Storage) -> Result<Vec<String>, Error> {
    Ok(storage
        .list(history::PREFIX)
        .await?
        .into_iter()
        .filter(|k| !k.ends_with('/'))
        .collect())
}

/// Converts key `name`'s record if the previous release wrote it (the caller holds its lock).
/// Returns whether it did.
pub(crate) async fn key(storage: &dyn Storage, name: &str) -> Result<bool, Error> {
    let Some(entry) = store::read(storage, name).await? else {
        return Ok(false);
    };
    if !entry.is_previous_format() {
        return mark_withdrawn(storage, name, entry).await;
    }
    // An inconsistent record is never rewritten, not even to convert it.
    store::check(name, &entry)?;
    let migrated = convert(storage, name, entry).await?;
    put_json(storage, &store::key_path(name), &migrated).await?;
    tracing::info!(
        key = %name,
        events = migrated.log.next,
        "key record migrated to format {FORMAT}"
    );
    Ok(true)
}

/// A record of this release that holds a withdrawn version but was written in [`FORMAT`] (by a
/// build before [`WITHDRAWN_FORMAT`]): rewritten as it is, in that format, so a release that
/// does not know the mark refuses it instead of misreading it. Whether it was rewritten.
async fn mark_withdrawn(
    storage: &dyn Storage,
    name: &str,
    mut entry: KeyEntry,
) -> Result<bool, Error> {
    if entry.key.versions.withdrawn.is_none() || entry.format >= WITHDRAWN_FORMAT {
        return Ok(false);
    }
    store::check(name, &entry)?;
    entry.format = WITHDRAWN_FORMAT;
    put_json(storage, &store::key_path(name), &entry).await?;
    tracing::info!(key = %name, "key record holding a withdrawn version marked format {WITHDRAWN_FORMAT}");
    Ok(true)
}

/// Stores a previous-release entry's history and rotation ids outside it; the record to write.
async fn convert(storage: &dyn Storage, name: &str, entry: KeyEntry) -> Result<KeyEntry, Error> {
    let mut key = entry.key;
    let log = history::import(storage, name, &entry.history).await?;
    let old_ids = std::mem::take(&mut key.idempotency);
    let (ids, _) = replays::store(storage, name, &[], &old_ids).await?;
    let mut migrated = KeyEntry::new(key, log);
    migrated.replays = ids;
    Ok(migrated)
}

#[cfg(test)]
mod tests;
