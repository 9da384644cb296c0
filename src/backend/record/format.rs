//! Format versions of stored records. Every record this release writes carries `format`; a
//! record without one was written by the previous release (format 1, see `migrate`). A record
//! with a format newer than this binary knows is refused with an error naming it and is never
//! rewritten, so a downgrade cannot damage data the newer release wrote.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::framework::{Error, Storage};

/// The format this release writes (key records: unless they hold a withdrawn version).
pub(super) const FORMAT: u32 = 2;
/// The format of a key record holding a current version withdrawn as leaked under the
/// two-person rule (`KeyVersions::withdrawn`). A release before that mark would read such a
/// record without it: a key with no current version and no reason, its leaked version merely
/// revoked. With this format that release refuses the record explicitly (reports list it under
/// `records_refused`) and never rewrites it; every other record keeps [`FORMAT`], so a
/// downgrade keeps it readable. A record written without the mark again (its successor
/// promoted) goes back to [`FORMAT`].
pub(super) const WITHDRAWN_FORMAT: u32 = 3;
/// The newest key record format this release reads.
pub(super) const NEWEST_KEY_FORMAT: u32 = WITHDRAWN_FORMAT;

/// The format a key record is written in: [`WITHDRAWN_FORMAT`] while it holds a withdrawn
/// version, else [`FORMAT`].
pub(super) fn key_format(withdrawn: bool) -> u32 {
    match withdrawn {
        true => WITHDRAWN_FORMAT,
        false => FORMAT,
    }
}
/// The format of records without a `format` field (the previous release).
pub(super) const PREVIOUS_FORMAT: u32 = 1;

/// Serde default of `format` fields: a record without one is the previous release's.
pub(super) fn previous_format() -> u32 {
    PREVIOUS_FORMAT
}

fn invalid_json(path: &str, e: &serde_json::Error) -> Error {
    Error::Internal(format!(
        "storage entry {path:?} is not valid JSON ({:?} error at line {} column {})",
        e.classify(),
        e.line(),
        e.column()
    ))
}

/// Parses a stored entry as JSON, naming it on failure.
pub(super) fn decode(path: &str, raw: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(raw).map_err(|e| invalid_json(path, &e))
}

/// The format of a stored entry, as [`format_of`] reads it from the parsed value, without
/// building the value: the rest of the entry is only checked to be JSON. A hot path (reports
/// decode every key record, and a tree of values costs several times the typed record).
pub(super) fn format_in(path: &str, raw: &[u8]) -> Result<u64, Error> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(default)]
        format: Option<Value>,
    }
    let format = match serde_json::from_slice::<Head>(raw) {
        Ok(head) => head.format,
        Err(e) if e.is_syntax() || e.is_eof() => return Err(invalid_json(path, &e)),
        // Valid JSON of another shape: decoding it into the record type names the problem.
        Err(_) => None,
    };
    Ok(format_number(format.as_ref()))
}

/// Decodes a stored entry straight into `T`, naming the entry on failure (never its content).
pub(super) fn from_slice<T: DeserializeOwned>(path: &str, raw: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(raw).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            invalid_json(path, &e)
        } else {
            cannot_decode(path, &e)
        }
    })
}

/// The format of a parsed record (1 when it has none).
pub(super) fn format_of(value: &Value) -> u64 {
    format_number(value.get("format"))
}

/// A record's `format` field as a number: 1 (the previous release) when absent or not one.
fn format_number(format: Option<&Value>) -> u64 {
    format
        .and_then(Value::as_u64)
        .unwrap_or(u64::from(PREVIOUS_FORMAT))
}

/// Refuses a record written by a newer release.
pub(super) fn check_format(path: &str, value: &Value) -> Result<(), Error> {
    let format = format_of(value);
    if format > u64::from(FORMAT) {
        return Err(Error::Internal(format!(
            "storage entry {path:?} has format {format}, newer than this plugin understands \
             ({FORMAT}); it was left untouched: run the plugin release that wrote it"
        )));
    }
    Ok(())
}

/// Decodes a parsed record into `T`, naming the entry on failure (never its content).
pub(super) fn from_value<T: DeserializeOwned>(path: &str, value: Value) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| cannot_decode(path, &e))
}

fn cannot_decode(path: &str, e: &serde_json::Error) -> Error {
    Error::Internal(format!("cannot decode storage entry {path:?}: {}", kind(e)))
}

fn kind(e: &serde_json::Error) -> String {
    // serde's messages may quote stored values (a key's value, in the worst case): keep only
    // the position-free category and the missing/unknown field names serde reports.
    let text = e.to_string();
    if text.starts_with("missing field") || text.starts_with("unknown variant") {
        text
    } else {
        format!("{:?} error", e.classify())
    }
}

/// Reads a record of this or the previous format.
pub(super) async fn get<T: DeserializeOwned>(
    storage: &dyn Storage,
    path: &str,
) -> Result<Option<T>, Error> {
    let Some(raw) = storage.get(path).await? else {
        return Ok(None);
    };
    let value = decode(path, &raw)?;
    check_format(path, &value)?;
    from_value(path, value).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_without_format_is_the_previous_release() {
        assert_eq!(format_of(&json!({"key": null})), 1);
        assert!(check_format("keys/a", &json!({"key": null})).is_ok());
        assert!(check_format("keys/a", &json!({"format": FORMAT})).is_ok());
    }

    #[test]
    fn a_newer_format_is_refused_naming_the_entry() {
        let e = check_format("keys/a", &json!({"format": FORMAT + 1})).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("keys/a") && text.contains("newer"), "{text}");
    }

    #[test]
    fn decoding_errors_do_not_quote_stored_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            n: u32,
        }
        let e = from_value::<S>("keys/a", json!({"n": "sk-secret"})).unwrap_err();
        assert!(!e.to_string().contains("sk-secret"), "{e}");
    }
}
