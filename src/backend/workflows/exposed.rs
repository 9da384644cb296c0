//! The leak response (`exposed`): find the versions a leaked value (or its fingerprint) belongs
//! to across the mount, then take away what the leak gives: a `previous` or `pending` version is
//! revoked now, a `current` one is rotated at once where the provider can create its successor
//! (`exposed/current.rs`) and otherwise marked exposed until a new value is promoted; a
//! version already retired is only recorded. Every match gets an `exposed` history event naming
//! the report's source and reason. The value itself is never stored or logged.
//!
//! The search reads the key digests the record cache keeps (each holds its versions'
//! fingerprints), and only the records whose fingerprints match.

use std::sync::Arc;

use futures::TryStreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::locked::{rotation_error, Locked};
use crate::backend::record::{self, Fingerprint};
use crate::backend::shared::Shared;
use crate::framework::{Error, Request, Storage};
use crate::rotation::{SecretValue, VersionState};

mod current;

/// What a leak report gives to find the versions.
pub(crate) enum Leak {
    /// The leaked value itself (compared in constant time with each candidate's value).
    Value(SecretValue),
    /// The value's full SHA-256 (compared with each live candidate's in constant time).
    Sha256([u8; 32]),
    /// A version's fingerprint as `keys/` shows it: only 8 bytes, so two versions may share it.
    Fingerprint(Fingerprint),
}

impl Leak {
    /// The fingerprint every matching version has.
    fn fingerprint(&self) -> Fingerprint {
        let mut out = [0u8; 8];
        match self {
            Leak::Value(v) => out.copy_from_slice(&Sha256::digest(v.expose().as_bytes())[..8]),
            Leak::Sha256(h) => out.copy_from_slice(&h[..8]),
            Leak::Fingerprint(f) => out = *f,
        }
        out
    }

    /// Whether a version whose fingerprint matched holds this leak. A retired version has no
    /// value left: its fingerprint is all there is to go by.
    fn confirms(&self, value: Option<&SecretValue>) -> bool {
        match (self, value) {
            (_, None) | (Leak::Fingerprint(_), _) => true,
            (Leak::Value(leaked), Some(held)) => held.ct_choice(leaked.expose()).into(),
            (Leak::Sha256(leaked), Some(held)) => {
                let digest = Sha256::digest(held.expose().as_bytes());
                digest.as_slice().ct_eq(leaked.as_slice()).into()
            }
        }
    }
}

/// Who reported the leak, and why: recorded on every version it touches.
pub(crate) struct Report {
    /// Where the value was found (a repository, a ticket, a scanner).
    pub source: String,
    /// Why it is believed leaked.
    pub reason: String,
}

/// The versions `leak` belongs to, as `(key, version)` in key order: a 404 naming no key when
/// none does, and a 409 (naming no key either) when a fingerprint of 16 hex digits matches more
/// than one version (the value or its full SHA-256 tells them apart).
pub(crate) async fn find(storage: &dyn Storage, leak: &Leak) -> Result<Vec<(String, u32)>, Error> {
    let fingerprint = leak.fingerprint();
    // Records the engine refuses are left out of the search (their values cannot be read as
    // the engine's); a 404 says how many, since the value may be in one of them.
    let refusals = record::Refusals::default();
    let candidates: Vec<(String, Vec<u32>)> = record::digests_noting(storage, refusals.clone())
        .await?
        .try_filter_map(|(name, digest)| {
            let versions: Vec<u32> = digest.versions_with(fingerprint).collect();
            futures::future::ready(Ok((!versions.is_empty()).then_some((name, versions))))
        })
        .try_collect()
        .await?;
    let mut found = Vec::new();
    for (name, versions) in candidates {
        let Some(key) = record::load_key(storage, &name).await? else {
            continue; // deleted since
        };
        for number in versions {
            let Some(v) = key.versions.get(number) else {
                continue;
            };
            if leak.confirms(v.value.as_ref()) {
                found.push((name.clone(), number));
            }
        }
    }
    if found.is_empty() {
        let unsearched = match refusals.taken().len() {
            0 => String::new(),
            n => format!(
                "; {n} key record{} the engine refuses {} not searched, and the value may be \
                 in one: an administrator can inspect them with records/keys/ (their keys may \
                 still be live at their providers)",
                if n == 1 { "" } else { "s" },
                if n == 1 { "was" } else { "were" },
            ),
        };
        return Err(Error::NotFound(format!(
            "no version of any key matches the given value or fingerprint{unsearched}"
        )));
    }
    if matches!(leak, Leak::Fingerprint(_)) && found.len() > 1 {
        return Err(Error::Coded {
            status: 409,
            message: format!(
                "fingerprint: {} versions share these 16 hex digits; give the value or its full \
                 SHA-256 (64 hex digits) to tell them apart",
                found.len()
            ),
        });
    }
    Ok(found)
}

/// Responds to the leak of version `number` of key `name` (found by [`find`]): what was done,
/// as the `exposed` answer lists it for that version.
pub(crate) async fn respond(
    s: &Arc<Shared>,
    req: &Request,
    name: &str,
    number: u32,
    report: &Report,
) -> Result<Value, Error> {
    let storage = req.storage.as_ref();
    let mut locked = Locked::open(s, req, name).await?;
    // The version as it stands now, under the key's lock (a grace end applied at opening).
    let state = locked
        .key_ref()
        .versions
        .get(number)
        .map(|v| v.state)
        .ok_or_else(|| Error::NotFound(format!("version {number} of key {name:?} is gone")))?;
    let detail = format!(
        "{} version reported exposed; source: {}; reason: {}",
        state.as_str(),
        report.source,
        report.reason
    );
    locked.note("exposed", Some(number), None, &detail);
    tracing::warn!(key = %name, version = number, state = %state, "key version reported exposed");
    let mut out = json!({ "key": name, "version": number, "state": state.as_str() });
    match state {
        VersionState::Revoked | VersionState::Failed => {
            locked.commit(s, storage).await?;
            let v = locked.key_ref().versions.get(number);
            out["action"] = json!("recorded");
            out["provider_revocation"] = json!(v
                .and_then(|v| v.provider_revocation.as_ref())
                .map(|r| r.status()));
            out["retired_versions"] = locked.retired_json();
        }
        VersionState::Pending | VersionState::Previous => {
            let now = locked.now;
            let why = format!("exposed ({}): revoked at once", report.source);
            let changes = locked
                .key()
                .versions
                .revoke_exposed(number, now, &why)
                .map_err(rotation_error)?;
            locked.record(&changes, None);
            locked.commit(s, storage).await?;
            out["action"] = json!("revoked");
            out["retired_versions"] = locked.retired_json();
            tracing::info!(key = %name, version = number, "exposed version revoked");
        }
        VersionState::Current => {
            current::respond(s, req, locked, number, report, &mut out).await?;
        }
    }
    Ok(out)
}
