//! Leak reports (`exposed`) in the model: which value or fingerprint a step reports (of a version
//! the model knows, current, previous, pending or retired, or of a value no key holds), what the
//! answer promises, and the invariant that keeps the promise: (f) a version reported leaked and
//! taken away (`rotated`, `withdrawn`, `revoked`, `recorded`) is never live again, never served
//! by `creds/`, and its key is revoked at its origin, or has a revocation pending with an intent,
//! or is left `manual` to a person; one only `marked_exposed` (nothing could replace it) keeps
//! the key flagged `exposed` while it is current.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::invariants::{Invariant, Stored, Violation};
use super::world::World;
use crate::backend::record;
use crate::framework::Operation;
use crate::rotation::{TestOutcome, VersionState};
use crate::secret::fingerprint_of;

/// How a leak is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LeakBy {
    /// The value itself.
    Value,
    /// `sha256:` and 16 hex digits, as `keys/` shows it (may match several versions: 409).
    Fingerprint,
    /// The full SHA-256 in 64 hex digits.
    Sha256,
    /// A value no key holds (404, changing nothing).
    Unknown,
}

/// A version an answered report took away (or, `marked`, only flagged).
#[derive(Debug, Clone)]
pub(super) struct Promise {
    pub key: String,
    pub version: u32,
    pub fingerprint: String,
    /// `marked_exposed`: the key keeps it current, flagged, until a new value is promoted.
    pub marked: bool,
}

/// The value of a version whose fingerprint is `fingerprint`, from what the hosts minted.
fn value_of(w: &World, fingerprint: &str) -> Option<String> {
    w.fakes
        .iter()
        .flat_map(|f| f.created_keys())
        .map(|(_, value, _)| value)
        .find(|v| fingerprint_of(v) == fingerprint)
}

/// The body of a report of the `pick`-th version of `key` (by number), given `by`.
pub(super) async fn body(w: &World, key: &str, pick: usize, by: LeakBy) -> Value {
    let mut body = Map::new();
    body.insert("source".into(), json!("a public gist"));
    body.insert("reason".into(), json!("a secret scanner's alert"));
    let entry = record::load(w.engine.cached.as_ref(), key)
        .await
        .ok()
        .flatten();
    let versions: Vec<_> = entry
        .map(|e| e.key.versions.versions.into_values().collect())
        .unwrap_or_default();
    let picked = (!versions.is_empty()).then(|| &versions[pick % versions.len()]);
    let (value, fingerprint) = match (by, picked) {
        (LeakBy::Unknown, _) | (_, None) => {
            let v = format!("sk-or-v1-leaked-{}", uuid::Uuid::new_v4().simple());
            (Some(v.clone()), fingerprint_of(&v))
        }
        (_, Some(v)) => (
            v.value
                .as_ref()
                .map(|s| s.expose().to_string())
                .or_else(|| value_of(w, &v.fingerprint)),
            v.fingerprint.clone(),
        ),
    };
    match (by, value) {
        (LeakBy::Sha256, Some(v)) => {
            let digest = Sha256::digest(v.as_bytes());
            body.insert("fingerprint".into(), json!(hex::encode(digest)));
        }
        (LeakBy::Value | LeakBy::Unknown, Some(v)) => {
            body.insert("value".into(), json!(v));
        }
        _ => {
            body.insert("fingerprint".into(), json!(fingerprint));
        }
    }
    Value::Object(body)
}

/// Records what an answered report promised (`answer`: its data).
pub(super) async fn promised(w: &mut World, answer: &Value) {
    for m in answer["matches"].as_array().cloned().unwrap_or_default() {
        let (Some(key), Some(version)) = (m["key"].as_str(), m["version"].as_u64()) else {
            continue;
        };
        let Ok(version) = u32::try_from(version) else {
            continue;
        };
        let entry = record::load(w.engine.cached.as_ref(), key)
            .await
            .ok()
            .flatten();
        let Some(fingerprint) = entry
            .and_then(|e| e.key.versions.versions.get(&version).cloned())
            .map(|v| v.fingerprint)
        else {
            continue;
        };
        w.leaked.push(Promise {
            key: key.to_string(),
            version,
            fingerprint,
            marked: m["action"] == "marked_exposed",
        });
    }
}

/// (f): every promise still kept.
pub(super) async fn check(w: &World, s: &Stored, out: &mut Vec<Violation>) {
    let mut served: Vec<(String, String)> = Vec::new();
    for e in &s.records {
        let name = &e.key.name;
        let creds = w
            .engine
            .answer(Operation::Read, &format!("creds/{name}"), Value::Null)
            .await;
        if let Ok(c) = creds {
            for field in ["api_key", "previous_api_key"] {
                if let Some(v) = c[field].as_str() {
                    served.push((name.clone(), fingerprint_of(v)));
                }
            }
        }
    }
    for p in &w.leaked {
        let broken = |detail: String| Violation {
            invariant: Invariant::LeakedStaysRetired,
            detail: format!("{} version {} reported leaked: {detail}", p.key, p.version),
        };
        // Deleted (and perhaps made again): the delete's own revocations cover the version.
        let Some(e) = s.records.iter().find(|e| e.key.name == p.key) else {
            continue;
        };
        let Some(v) = e
            .key
            .versions
            .versions
            .get(&p.version)
            .filter(|v| v.fingerprint == p.fingerprint)
        else {
            continue;
        };
        if p.marked && v.state == VersionState::Current {
            if e.key.exposure().map(|x| x.version) != Some(p.version) {
                out.push(broken("current, but the key is not flagged exposed".into()));
            }
            continue;
        }
        if p.marked {
            // Replaced: from now on it is retired like any other version (a grace may run).
            continue;
        }
        if served
            .iter()
            .any(|(k, f)| *k == p.key && *f == p.fingerprint)
        {
            out.push(broken("creds/ serves it again".into()));
        }
        if matches!(
            v.state,
            VersionState::Current | VersionState::Previous | VersionState::Pending
        ) {
            out.push(broken(format!("it is {:?} again", v.state)));
            continue;
        }
        match &v.provider_revocation {
            // Documented (api.md, Ownership): a discarded imported value is the operator's, and
            // a key its provider rejected at its last test is not live there.
            None if !v.owned()
                && (v.state == VersionState::Failed
                    || v.last_test
                        .as_ref()
                        .is_some_and(|t| t.outcome == TestOutcome::BadKey)) => {}
            None => out.push(broken("retired with no revocation recorded".into())),
            Some(r) if r.is_pending() => {
                if !s
                    .revokes
                    .iter()
                    .any(|i| i.provider_key_id == r.provider_key_id)
                {
                    out.push(broken(format!(
                        "revocation of {} pending with no intent",
                        r.provider_key_id
                    )));
                }
            }
            Some(_) => {}
        }
    }
}
