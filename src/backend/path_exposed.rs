//! `exposed`: the leak response in one call. Given a leaked value (or its fingerprint), the
//! engine finds the key versions it belongs to across the mount and takes away what the leak
//! gives (see `workflows/exposed.rs`); the answer says, per version, what was done.

use std::sync::Arc;

use serde_json::{json, Value};

use super::fields::{self, NO_CONTROL_CHARACTERS, NO_CONTROL_CHARACTERS_MEANING};
use super::record;
use super::shared::{bind, Shared};
use super::view;
use super::workflows::{self, Leak, LeakReport};
use crate::framework::{
    Error, Field, FieldData, FieldType, HandlerResult, Operation, Path, Request, Response,
};
use crate::rotation::{validate_key_value, SecretValue};

/// Longest `source`.
const MAX_SOURCE_LEN: usize = 256;
/// Longest `reason`.
const MAX_REASON_LEN: usize = 1024;
/// `sha256:` and 16 hex digits (as `keys/` shows a fingerprint), or the full SHA-256 in 64 hex
/// digits with or without `sha256:`.
const FINGERPRINT_PATTERN: &str = r"^(sha256:[0-9a-fA-F]{16}|(sha256:)?[0-9a-fA-F]{64})$";

fn text(name: &str, description: &str, max: usize) -> Field {
    Field::new(name, FieldType::String, description)
        .required()
        .min_len(1)
        .max_len(max)
        .pattern(NO_CONTROL_CHARACTERS, NO_CONTROL_CHARACTERS_MEANING)
}

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![Path::new("exposed")
        .field(fields::new_key_value(Field::new(
            "value",
            FieldType::String,
            "The leaked value. Write-only; never stored or logged. Give value or fingerprint, not both.",
        )))
        .field(
            Field::new(
                "fingerprint",
                FieldType::String,
                "The leaked value's fingerprint instead of the value: sha256: and 16 hex digits, as keys/ shows it, or the full SHA-256 in 64 hex digits (printf %s \"$KEY\" | sha256sum).",
            )
            .max_len(71)
            .pattern(FINGERPRINT_PATTERN, "must be sha256: and 16 hex digits, or 64 hex digits"),
        )
        .field(text(
            "source",
            "Where the value was found (a repository, a ticket, a scanner's alert), for the history. Required; at most 256 characters.",
            MAX_SOURCE_LEN,
        ))
        .field(text(
            "reason",
            "Why it is believed leaked, for the history. Required; at most 1024 characters.",
            MAX_REASON_LEN,
        ))
        .strict()
        .operation(
            Operation::Update,
            "Report a leaked key value: revoke or rotate away every version it belongs to.",
            bind(shared, exposed),
        )
        .help(SYNOPSIS, DESCRIPTION)]
}

/// The leak the request describes (400 unless exactly one of `value` and `fingerprint`).
fn leak_of(d: &FieldData) -> Result<Leak, Error> {
    let value = d.get_string("value").filter(|_| d.is_set("value"));
    let fingerprint = d
        .get_string("fingerprint")
        .filter(|_| d.is_set("fingerprint"));
    match (value, fingerprint) {
        (Some(v), None) => {
            validate_key_value(&v).map_err(|e| Error::BadRequest(format!("value: {e}")))?;
            Ok(Leak::Value(SecretValue::new(v)))
        }
        (None, Some(f)) => parse_fingerprint(&f),
        _ => Err(Error::BadRequest(
            "give exactly one of value and fingerprint".into(),
        )),
    }
}

/// `fingerprint` as [`FINGERPRINT_PATTERN`] admits it.
fn parse_fingerprint(text: &str) -> Result<Leak, Error> {
    let lower = text.to_ascii_lowercase();
    let hex_digits = lower.strip_prefix("sha256:").unwrap_or(&lower);
    let bad = || {
        Error::BadRequest("fingerprint: must be sha256: and 16 hex digits, or 64 hex digits".into())
    };
    if hex_digits.len() == 64 {
        let mut full = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut full).map_err(|_| bad())?;
        return Ok(Leak::Sha256(full));
    }
    record::parse_fingerprint(&format!("sha256:{hex_digits}"))
        .filter(|_| lower.starts_with("sha256:"))
        .map(Leak::Fingerprint)
        .ok_or_else(bad)
}

/// `source` or `reason`: not only whitespace, and never the leaked value (it would end up in
/// the history).
fn report_text(d: &FieldData, field: &str, leak: &Leak) -> Result<String, Error> {
    let text = d.get_string(field).unwrap_or_default();
    if text.trim().is_empty() {
        return Err(Error::BadRequest(format!(
            "{field} is required and must not be only whitespace"
        )));
    }
    if let Leak::Value(v) = leak {
        if text.contains(v.expose()) {
            return Err(Error::BadRequest(format!(
                "{field} must not contain the leaked value: it is kept in the keys' history"
            )));
        }
    }
    Ok(text)
}

async fn exposed(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let leak = leak_of(&d)?;
    let report = LeakReport {
        source: report_text(&d, "source", &leak)?,
        reason: report_text(&d, "reason", &leak)?,
    };
    let found = workflows::find_exposed(req.storage.as_ref(), &leak).await?;
    drop(leak);
    let mut matches = Vec::new();
    let mut warnings = Vec::new();
    for (name, version) in &found {
        match workflows::respond_exposed(&s, &req, name, *version, &report).await {
            Ok(entry) => {
                warnings.extend(view::retirement_warnings(&entry, name));
                if let Some(waits) = entry.get("waits_for").and_then(Value::as_str) {
                    if entry["action"] != "withdrawn" {
                        warnings.push(format!(
                            "key {name:?} version {version} is still current and exposed; it waits for {waits}"
                        ));
                    }
                }
                matches.push(entry);
            }
            // Storage refusing writes (a standby's read-only storage, an outage) is the
            // server's to report or forward: nothing else could be written either.
            Err(e @ Error::Storage(_)) => return Err(e),
            // One key's failure does not stop the response to the others.
            Err(e) => {
                tracing::warn!(key = %name, version, error = %e, "leak response failed for a key");
                matches.push(json!({"key": name, "version": version, "action": "failed", "error": e.to_string()}));
            }
        }
    }
    let mut response = Response::with_data(json!({ "matches": matches }));
    response.warnings.extend(warnings);
    Ok(Some(response))
}

const SYNOPSIS: &str = "Respond to a leaked key value in one call.";
const DESCRIPTION: &str = "\
Give the leaked value, or its fingerprint (sha256: and 16 hex digits as keys/ shows it, or the \
full SHA-256 in 64 hex digits), and where it was found (source) and why (reason). The engine \
finds every version of every key in the mount that holds it, from the digests it keeps, and: a \
current version is rotated at once where the key's provider can create keys (a new key created, \
tested and promoted with grace 0: the leaked one is revoked at its origin now); otherwise it \
stays current, marked exposed (keys/ read, overdue, report, the ai_keys_key_exposed metric and \
its alert) until a new value is promoted. Under require_separate_approver the new key is staged \
and tested but waits for a different entity to promote it, and the leaked current version is \
withdrawn now: until the promotion the key has no current version and creds/ answers 404 naming \
the pending version. A previous or pending version is revoked now (at its provider only when the \
engine owns the key; otherwise recorded manual); a version already retired is only recorded. \
Every matched version gets an exposed history event with source, reason and who reported it. \
Returns matches: per version the key, version, state before, action (rotated, withdrawn, \
marked_exposed, revoked, recorded), retired_versions with each revocation's status, and what \
the key waits for. An unknown value is a 404 that names no key; a 16-hex fingerprint shared by \
several versions is a 409 (give the value or the full SHA-256). The value is never stored, \
logged or returned. Killing access is a one-person action even under the two-person rule.";

#[cfg(test)]
mod tests;
