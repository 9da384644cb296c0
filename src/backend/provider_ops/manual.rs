//! The manual revocations of deleted keys: a retired version the engine does not own is left to
//! a person (`manual`) and counted until someone acknowledges it; once its key is deleted the
//! record that held it is gone, so each one not acknowledged yet is kept in an entry of its own,
//! `manual/<key>/<incarnation>.<version>` (no key material: who, where, which id, fingerprint,
//! why, since when).
//!
//! Crash safety: a delete writes these entries before it removes the record (and deletes those
//! of the same incarnation that are no longer unacknowledged), at paths that depend only on the
//! incarnation and the version, so a delete interrupted and run again writes the same entries.
//! An entry counts only while no live record of its key has the same incarnation (a later
//! incarnation's versions are other keys): while the record of that incarnation still exists (a
//! delete interrupted after the entries), the record is what counts its manual revocations,
//! never both, and the next delete writes them again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::record::{self, KeyEntry};
use crate::framework::{get_json, put_json, Error, Storage};

/// Prefix of the deleted keys' manual revocations.
pub(crate) const MANUAL_PREFIX: &str = "manual/";

/// A deleted key's manual revocation nobody acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeletedManual {
    /// The deleted key's name.
    pub key: String,
    /// Which incarnation of the name (`history/<key>?incarnation=`).
    pub incarnation: u32,
    /// The retired version.
    pub version: u32,
    /// The provider configuration the key lives at.
    pub provider: String,
    /// The provider's id of the key, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_key_id: Option<String>,
    /// The version's fingerprint.
    pub fingerprint: String,
    /// Why the engine left it to a person.
    pub reason: String,
    /// When the revocation was requested (the version retired).
    pub requested_time: DateTime<Utc>,
}

fn key_prefix(key: &str) -> String {
    format!("{MANUAL_PREFIX}{key}/")
}

fn entry_path(key: &str, incarnation: u32, version: u32) -> String {
    format!("{}{incarnation}.{version}", key_prefix(key))
}

/// For key `entry` being deleted, before its record is removed: stores each of its manual
/// revocations nobody acknowledged, and deletes the entries of its incarnation that no longer
/// are (acknowledged since an interrupted delete wrote them).
pub(crate) async fn keep_of_deleted(storage: &dyn Storage, entry: &KeyEntry) -> Result<(), Error> {
    let key = &entry.key;
    let incarnation = entry.log.incarnation;
    let mut kept = Vec::new();
    for (number, v) in &key.versions.versions {
        let Some(r) = v
            .provider_revocation
            .as_ref()
            .filter(|r| r.is_unacknowledged_manual())
        else {
            continue;
        };
        let manual = DeletedManual {
            key: key.name.clone(),
            incarnation,
            version: *number,
            provider: r.provider.clone(),
            provider_key_id: Some(r.provider_key_id.clone()).filter(|id| !id.is_empty()),
            fingerprint: v.fingerprint.clone(),
            reason: r
                .manual
                .as_ref()
                .map(|m| m.reason.clone())
                .unwrap_or_default(),
            requested_time: r.requested_time,
        };
        let path = entry_path(&key.name, incarnation, *number);
        put_json(storage, &path, &manual).await?;
        kept.push(path);
    }
    let prefix = key_prefix(&key.name);
    for child in storage.list(&prefix).await? {
        let path = format!("{prefix}{child}");
        let mine = child
            .split_once('.')
            .is_some_and(|(n, _)| n == incarnation.to_string());
        if mine && !kept.contains(&path) {
            storage.delete(&path).await?;
        }
    }
    Ok(())
}

/// Why recovery leaves an earlier release's revocation to a person ([`keep_unproven`]).
const UNPROVEN: &str = "an earlier release asked to revoke this key, but the engine never proved \
    the key to be this key's (an imported key whose id only matched the provider's hint): \
    revoke it by hand if it is yours";

/// An earlier release's revocation, still pending, of a key whose record no longer holds the
/// version (the key was deleted) and that the engine never proved its own: recovery does not send
/// it, and keeps it here as that deleted key's manual revocation, counted, alerted on and
/// acknowledged like the others (written before the intent is dropped, at a path fixed by the
/// intent, so recovery interrupted and run again writes the same entry). Such intents name no
/// incarnation (0 here, before any real one) and no fingerprint (empty).
pub(crate) async fn keep_unproven(
    storage: &dyn Storage,
    intent: &super::RevokeIntent,
    requested_time: DateTime<Utc>,
) -> Result<(), Error> {
    let manual = DeletedManual {
        key: intent.key.clone(),
        incarnation: intent.incarnation.unwrap_or(0),
        version: intent.version,
        provider: intent.provider.clone(),
        provider_key_id: Some(intent.provider_key_id.clone()).filter(|id| !id.is_empty()),
        fingerprint: String::new(),
        reason: UNPROVEN.to_string(),
        requested_time,
    };
    let path = entry_path(&manual.key, manual.incarnation, manual.version);
    put_json(storage, &path, &manual).await.map_err(Error::from)
}

/// Every deleted key's manual revocation nobody acknowledged, in key, incarnation and version
/// order (entries of an incarnation whose record still exists are left out: it counts them).
pub(crate) async fn of_deleted_keys_manual(
    storage: &dyn Storage,
) -> Result<Vec<DeletedManual>, Error> {
    let mut out = Vec::new();
    for dir in storage.list(MANUAL_PREFIX).await? {
        let Some(key) = dir.strip_suffix('/') else {
            continue;
        };
        out.extend(of_key(storage, key).await?);
    }
    out.sort_by(|a, b| (&a.key, a.incarnation, a.version).cmp(&(&b.key, b.incarnation, b.version)));
    Ok(out)
}

/// Deleted key `key`'s manual revocations nobody acknowledged (see [`of_deleted_keys_manual`]).
pub(crate) async fn of_key(storage: &dyn Storage, key: &str) -> Result<Vec<DeletedManual>, Error> {
    let prefix = key_prefix(key);
    let children = storage.list(&prefix).await?;
    if children.is_empty() {
        return Ok(Vec::new());
    }
    let live = record::read(storage, key).await?.map(|e| e.log.incarnation);
    let mut out = Vec::new();
    for child in children {
        let Some(manual) = get_json::<DeletedManual>(storage, &format!("{prefix}{child}")).await?
        else {
            continue;
        };
        if live.is_none_or(|n| n > manual.incarnation) {
            out.push(manual);
        }
    }
    out.sort_by_key(|m| (m.incarnation, m.version));
    Ok(out)
}

/// Removes deleted key `manual.key`'s manual revocation once a person acknowledged it.
pub(crate) async fn forget_deleted_manual(
    storage: &dyn Storage,
    manual: &DeletedManual,
) -> Result<(), Error> {
    Ok(storage
        .delete(&entry_path(&manual.key, manual.incarnation, manual.version))
        .await?)
}
