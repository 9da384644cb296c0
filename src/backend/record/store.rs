//! How a key lives in storage: its record (`keys/<name>`) holds its settings, its live versions
//! plus the newest retired ones, its rotation state and pointers to its history (`history.rs`)
//! and remembered rotation ids (`replays.rs`), which live in entries of their own. So reading a
//! key costs the same whatever its age, and no entry grows with it. Every state change is one
//! write of the record, after the history pages and rotation ids it points at.
//!
//! Records are checked when loaded: one from a newer release, or one that breaks the version
//! invariants, is refused with an error naming the key and is never rewritten. Records are
//! checked again when saved: against the invariants, and against the record as stored, so no
//! write retires an owned key without a revocation at its provider.
//!
//! Writers of one key are serialized by a per-key lock held in the plugin; different keys never
//! wait for each other.

use std::sync::Arc;

use super::format::{self, NEWEST_KEY_FORMAT};
use super::history::{self, HistoryEvent, HistoryLog};
use super::key::{trim_retired, KeyEntry, KeyState};
use super::outbox;
use super::replays;
use crate::framework::{get_cached, put_json, Error, Storage};

/// Prefix of live key entries.
pub(crate) const KEYS_PREFIX: &str = "keys/";

/// Storage key of a live key.
pub(crate) fn key_path(name: &str) -> String {
    format!("{KEYS_PREFIX}{name}")
}

/// Reads a key's record as stored (this or the previous format), without checking its versions.
/// For `history/` and reports, which act on nothing; `None` if there is no such key.
pub(crate) async fn read(storage: &dyn Storage, name: &str) -> Result<Option<KeyEntry>, Error> {
    Ok(read_shared(storage, name, true)
        .await?
        .map(|e| e.as_ref().clone()))
}

/// [`read`], shared with the storage's cache of decoded records (see
/// [`crate::framework::get_cached`]): a warm read costs no round trip to the host and no
/// decoding. `keep`: whether a record read from storage may be cached (scans over every key
/// pass false). The cache holds records as stored, never views: whatever depends on the time
/// (grace windows) is judged by the reader.
pub(super) async fn read_shared(
    storage: &dyn Storage,
    name: &str,
    keep: bool,
) -> Result<Option<Arc<KeyEntry>>, Error> {
    let path = key_path(name);
    let entry = get_cached(storage, &path, keep, |raw| decode(name, &path, raw)).await?;
    Ok(entry)
}

/// A stored record, decoded and its format checked.
fn decode(name: &str, path: &str, raw: &[u8]) -> Result<KeyEntry, Error> {
    let format = format::format_in(path, raw)?;
    if format > u64::from(NEWEST_KEY_FORMAT) {
        return Err(Error::Internal(format!(
            "key {name:?} is stored at {path} in format {format}, newer than this plugin \
             understands ({NEWEST_KEY_FORMAT}); its record was left untouched: run the plugin release that \
             wrote it"
        )));
    }
    let entry: KeyEntry = format::from_slice(path, raw)?;
    if entry.key.name != name {
        // Trusted only where it lives: a record copied or planted under another key's path
        // would otherwise make a write through this path overwrite (or leave unrevoked) the
        // key it names.
        return Err(Error::Internal(format!(
            "the record stored at {path} names another key ({:?}); it is refused and left \
             untouched for an operator to repair or delete (records/ delete)",
            entry.key.name
        )));
    }
    Ok(entry)
}

/// Refuses a record that breaks the version invariants; it is left as stored for an operator.
pub(super) fn check(name: &str, entry: &KeyEntry) -> Result<(), Error> {
    entry.key.versions.check_invariants().map_err(|e| {
        tracing::error!(key = %name, error = %e, "stored key record is inconsistent; refusing to use it");
        Error::Internal(format!(
            "key {name:?} has an inconsistent stored record at {} ({}); it is refused and left \
             untouched for an operator to repair",
            key_path(name),
            match e {
                crate::rotation::RotationError::Inconsistent { detail } => detail,
                other => other.to_string(),
            }
        ))
    })
}

/// Loads a live key's record, checked (see [`check`]).
pub(crate) async fn load(storage: &dyn Storage, name: &str) -> Result<Option<KeyEntry>, Error> {
    Ok(load_shared(storage, name)
        .await?
        .map(|e| e.as_ref().clone()))
}

/// [`load`], shared with the cache (see [`read_shared`]): for reads that change nothing.
pub(crate) async fn load_shared(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<Arc<KeyEntry>>, Error> {
    load_with(storage, name, true).await
}

/// [`load`]; `keep` false leaves the record cache's hot entries in place (a scan).
pub(super) async fn load_with(
    storage: &dyn Storage,
    name: &str,
    keep: bool,
) -> Result<Option<Arc<KeyEntry>>, Error> {
    let entry = read_shared(storage, name, keep).await?;
    if let Some(e) = &entry {
        check(name, e)?;
    }
    Ok(entry)
}

/// Loads a live key (without its history), checked.
pub(crate) async fn load_key(storage: &dyn Storage, name: &str) -> Result<Option<KeyState>, Error> {
    Ok(load(storage, name).await?.map(|e| e.key))
}

/// Loads a live key's entry or fails with a 400 naming it.
pub(crate) async fn load_existing(storage: &dyn Storage, name: &str) -> Result<KeyEntry, Error> {
    if let Some(entry) = load(storage, name).await? {
        return Ok(entry);
    }
    // A federated key has no versions: say so rather than that it does not exist.
    if super::federated::load(storage, name).await?.is_some() {
        return Err(Error::BadRequest(format!(
            "key {name:?} is federated: it has no value versions to stage, test, promote, \
             rotate or roll back (creds/ returns a short-lived provider token instead)"
        )));
    }
    Err(Error::BadRequest(format!("key {name:?} does not exist")))
}

/// Writes a live key: its new history events and rotation ids first, then its record (trimmed
/// of old retired versions), then deletes what fell out of the history and the remembered ids.
/// Saving the same entry again writes the same data. A record whose versions break the
/// invariants ([`crate::rotation::KeyVersions::check_invariants`]), or that retires an owned key
/// without a revocation ([`check_retirements`]), is refused (500) unwritten.
///
/// `name` is the key the caller opened (its path): the record is written there and nowhere else,
/// and an entry that names another key is refused (500) unwritten, so no write through one key's
/// path ever changes another key's record.
pub(crate) async fn save_at(
    storage: &dyn Storage,
    name: &str,
    entry: &KeyEntry,
) -> Result<(), Error> {
    write(storage, name, entry).await.map(|_| ())
}

/// [`save_at`] under the name the entry holds: for tests that build records by hand.
#[cfg(test)]
pub(crate) async fn save(storage: &dyn Storage, entry: &KeyEntry) -> Result<(), Error> {
    save_at(storage, &entry.key.name, entry).await
}

/// Refuses an entry about to be written under `name` that names another key.
fn check_name(name: &str, entry: &KeyEntry) -> Result<(), Error> {
    if entry.key.name == name {
        return Ok(());
    }
    tracing::error!(key = %name, named = %entry.key.name, "bug: refusing to write a key record under another key's path");
    Err(Error::Internal(format!(
        "bug: the record for {} names another key ({:?}); nothing was written",
        key_path(name),
        entry.key.name
    )))
}

/// [`save`], returning the record as stored.
pub(crate) async fn write(
    storage: &dyn Storage,
    name: &str,
    entry: &KeyEntry,
) -> Result<KeyEntry, Error> {
    check_name(name, entry)?;
    let key = &entry.key;
    let name = name.to_string();
    // The rules kept by the version state machine are checked where records are saved, not only
    // where they are loaded: a defect that broke them never reaches storage.
    key.versions.check_invariants().map_err(|e| {
        tracing::error!(key = %name, error = %e, "refusing to save a key record that breaks the version invariants");
        Error::Internal(format!(
            "key {name:?} was not saved: its versions would break the engine's invariants ({e})"
        ))
    })?;
    check_retirements(storage, &name, key).await?;
    let limit = entry.history_limit();
    let appended = history::append(storage, &name, entry.log, &entry.unsaved, limit).await?;
    // With the pages, before the record: a crash never stores an event without its
    // notification (`outbox.rs`).
    outbox::stage(
        storage,
        &name,
        entry.log.incarnation,
        entry.log.next,
        &entry.unsaved,
    )
    .await?;
    let (ids, evicted) =
        replays::store(storage, &name, &entry.replays, &entry.unsaved_replays).await?;
    let mut stored = KeyEntry::new(key.clone(), appended.log);
    stored.replays = ids;
    trim_retired(&mut stored.key.versions);
    put_json(storage, &key_path(&name), &stored).await?;
    history::delete_stale(storage, &name, &appended.stale).await;
    replays::forget(storage, &name, &evicted).await;
    Ok(stored)
}

/// For a key being deleted: stores the entry's unsaved history events and nothing else, and
/// returns the log to archive. The record stays as stored until it is removed, so a crash or a
/// refused write in between leaves the key as it was (live, every value in place), never a
/// record whose values are destroyed but which still exists.
pub(crate) async fn write_final_history(
    storage: &dyn Storage,
    name: &str,
    entry: &KeyEntry,
) -> Result<HistoryLog, Error> {
    check_name(name, entry)?;
    let limit = entry.history_limit();
    let appended = history::append(storage, name, entry.log, &entry.unsaved, limit).await?;
    outbox::stage(
        storage,
        name,
        entry.log.incarnation,
        entry.log.next,
        &entry.unsaved,
    )
    .await?;
    Ok(appended.log)
}

/// Appends `events` to the kept history of deleted incarnation `incarnation` of key `name`
/// (see [`history::append_to_deleted`]); whether they were kept. Call under the name's lock.
pub(crate) async fn append_to_deleted_history(
    storage: &dyn Storage,
    name: &str,
    incarnation: u32,
    events: &[HistoryEvent],
) -> Result<bool, Error> {
    let live = read(storage, name).await?.map(|e| e.log.incarnation);
    history::append_to_deleted(storage, name, incarnation, live, events).await
}

/// Refuses (500, logged as a bug) a record in which an owned key leaves the live states
/// without a revocation, compared with the record as stored: saved, it would leave a key alive
/// at its provider with neither a pending revocation (and its intent) nor a confirmed one. Every
/// key write goes through here, so any path that breaks the rule fails its tests.
async fn check_retirements(storage: &dyn Storage, name: &str, key: &KeyState) -> Result<(), Error> {
    let Some(stored) = read_shared(storage, name, true).await? else {
        return Ok(());
    };
    let unrevoked = key.versions.unrevoked_retirements(&stored.key.versions);
    if unrevoked.is_empty() {
        return Ok(());
    }
    tracing::error!(key = %name, versions = ?unrevoked, "bug: refusing to save a record that retires owned keys without revoking them at the provider");
    Err(Error::Internal(format!(
        "bug: key {name:?} was not saved: it would retire version(s) {unrevoked:?} without a \
         revocation at the provider; nothing was changed"
    )))
}

/// Names of every live key.
pub(crate) async fn list_names(storage: &dyn Storage) -> Result<Vec<String>, Error> {
    names_under(storage, KEYS_PREFIX).await
}

/// The entries directly under `prefix` (no folders), sorted.
pub(super) async fn names_under(storage: &dyn Storage, prefix: &str) -> Result<Vec<String>, Error> {
    let mut names: Vec<String> = storage
        .list(prefix)
        .await?
        .into_iter()
        .filter(|k| !k.ends_with('/'))
        .collect();
    names.sort();
    Ok(names)
}

/// Whether an outbox entry's event was stored (see [`outbox::committed`]). Call under the key's
/// lock.
pub(crate) async fn outbox_committed(
    storage: &dyn Storage,
    entry: &outbox::OutboxEntry,
) -> Result<bool, Error> {
    let live = read(storage, &entry.key).await?.map(|e| e.events());
    outbox::committed(storage, entry, live).await
}
