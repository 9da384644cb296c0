//! The report's provider revocations of one key: confirmed and pending, from the whole history
//! as well as the record (which keeps only the newest retired versions), like the report's other
//! columns.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::super::provider_ops::{DeletedManual, RevokeIntent};
use super::super::record::HistoryEvent;
use super::super::view;
use crate::rotation::KeyVersions;

/// `(confirmed, pending)`, each `[{version, requested_time, confirmed_time}]` in version order:
/// the revocations the record shows, plus every confirmation the history recorded
/// (`provider_revoked`) of a version the record no longer holds, requested when the version was
/// retired (its last `expired`, `revoked`, `failed` or `finalized` event before the
/// confirmation; null if the history no longer has it).
pub(super) fn revocations(
    versions: &KeyVersions,
    events: &[HistoryEvent],
) -> (Vec<Value>, Vec<Value>) {
    let line = |v: u32, requested: Option<DateTime<Utc>>, confirmed: Option<DateTime<Utc>>| {
        json!({
            "version": v,
            "requested_time": requested.map(view::time),
            "confirmed_time": confirmed.map(view::time),
        })
    };
    let mut confirmed: BTreeMap<u32, Value> = BTreeMap::new();
    let mut pending = Vec::new();
    for v in versions.versions.values() {
        // A manual one is the report's own column: never confirmed, never pending here.
        if let Some(r) = v
            .provider_revocation
            .as_ref()
            .filter(|r| r.manual.is_none())
        {
            let l = line(v.number, Some(r.requested_time), r.confirmed_time);
            if r.is_pending() {
                pending.push(l);
            } else {
                confirmed.insert(v.number, l);
            }
        }
    }
    let mut retired: BTreeMap<u32, DateTime<Utc>> = BTreeMap::new();
    for e in events {
        let Some(v) = e.version else { continue };
        match e.event.as_str() {
            // The latest: a failed rotation attempt names the number its version was to get,
            // which a later version may take and retire.
            "expired" | "revoked" | "failed" | "finalized" => {
                retired.insert(v, e.time);
            }
            "provider_revoked" if versions.get(v).is_none() => {
                confirmed
                    .entry(v)
                    .or_insert_with(|| line(v, retired.get(&v).copied(), Some(e.time)));
            }
            _ => {}
        }
    }
    (confirmed.into_values().collect(), pending)
}

/// The revocations of deleted keys (whose name starts with `prefix`) still pending at their
/// provider, which no key's line shows: `[{key, version, provider, attempts}]`.
pub(super) fn of_deleted_keys(intents: &[RevokeIntent], prefix: &str) -> Value {
    intents
        .iter()
        .filter(|i| i.key.starts_with(prefix))
        .map(|i| {
            json!({
                "key": i.key,
                "version": i.version,
                "provider": i.provider,
                "attempts": i.retry.attempts,
            })
        })
        .collect()
}

/// The manual revocations of deleted keys (whose name starts with `prefix`) nobody acknowledged,
/// which no key's line shows: `[{key, incarnation, version, provider, provider_key_id,
/// fingerprint, requested_time}]`.
pub(super) fn manual_of_deleted_keys(manual: &[DeletedManual], prefix: &str) -> Value {
    manual
        .iter()
        .filter(|m| m.key.starts_with(prefix))
        .map(|m| {
            json!({
                "key": m.key,
                "incarnation": m.incarnation,
                "version": m.version,
                "provider": m.provider,
                "provider_key_id": m.provider_key_id,
                "fingerprint": m.fingerprint,
                "requested_time": view::time(m.requested_time),
            })
        })
        .collect()
}
