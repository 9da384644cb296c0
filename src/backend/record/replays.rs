//! Remembered `rotation_id`s, one storage entry each (`idempotency/<name>/<id>`, where `<id>` is
//! a digest of the rotation id), outside the key's record. The record lists the ids it
//! remembers, newest last, at most [`KEEP`]; an entry not listed there is never read.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::format::{self, FORMAT};
use crate::framework::{Error, Storage};

/// Prefix of remembered rotation ids.
pub(super) const PREFIX: &str = "idempotency/";
/// How many rotation ids a key remembers.
pub(crate) const KEEP: usize = 32;

/// A remembered `rotation_id`: the same id with the same input returns the same result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Idempotency {
    /// The client's rotation id.
    pub rotation_id: String,
    /// `stage` or `rotate`.
    pub operation: String,
    /// SHA-256 of the operation's input.
    pub input_digest: String,
    /// The response data returned the first time.
    pub response: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(default = "format::previous_format")]
    format: u32,
    #[serde(flatten)]
    record: Idempotency,
}

/// The storage id of a rotation id (any text is accepted as a rotation id; paths are not).
pub(super) fn id_of(rotation_id: &str) -> String {
    hex::encode(&Sha256::digest(rotation_id.as_bytes())[..16])
}

fn path(name: &str, id: &str) -> String {
    format!("{PREFIX}{name}/{id}")
}

/// The remembered record of `rotation_id`, if `ids` (the key's list) holds it.
pub(super) async fn recall(
    storage: &dyn Storage,
    name: &str,
    ids: &[String],
    rotation_id: &str,
) -> Result<Option<Idempotency>, Error> {
    let id = id_of(rotation_id);
    if !ids.contains(&id) {
        return Ok(None);
    }
    let stored: Option<Stored> = format::get(storage, &path(name, &id)).await?;
    Ok(stored
        .map(|s| s.record)
        .filter(|r| r.rotation_id == rotation_id))
}

/// Writes `new` records and returns the key's list with them (newest last, at most [`KEEP`])
/// and the ids that fell out (to delete once the list is stored). Idempotent.
pub(super) async fn store(
    storage: &dyn Storage,
    name: &str,
    ids: &[String],
    new: &[Idempotency],
) -> Result<(Vec<String>, Vec<String>), Error> {
    let mut list = ids.to_vec();
    for record in new {
        let id = id_of(&record.rotation_id);
        let stored = Stored {
            format: FORMAT,
            record: record.clone(),
        };
        crate::framework::put_json(storage, &path(name, &id), &stored).await?;
        list.retain(|i| *i != id);
        list.push(id);
    }
    let excess = list.len().saturating_sub(KEEP);
    let evicted = list.drain(..excess).collect();
    Ok((list, evicted))
}

/// Deletes remembered records (best effort: an entry left over is never read, since the key's
/// list no longer names it).
pub(crate) async fn forget(storage: &dyn Storage, name: &str, ids: &[String]) {
    for id in ids {
        if let Err(e) = storage.delete(&path(name, id)).await {
            tracing::warn!(key = %name, error = %e, "could not delete an old rotation id record");
        }
    }
}
