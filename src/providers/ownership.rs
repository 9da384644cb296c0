//! What a provider's record of one key says about it without revealing it (providers.md "Usage,
//! expiry and ownership lookups"), and the check that a record belongs to a value: the
//! provider's ownership hint (`sk-ant-api03-R2D...igAA`) shows the key's first and last
//! characters, so a value whose prefix and suffix match is the key the record describes.
//!
//! The comparison is in constant time for a given hint and value length, and its result is a
//! bool: neither the value nor the hint goes into any error or log line.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::secret::SecretValue;

/// The fewest characters of a key that a hint must show (prefix and suffix together) to tell
/// one key from another; a hint showing less proves nothing.
pub const MIN_HINT_CHARS: usize = 8;
/// The fewest characters of the key's end a hint must show (the start is often a fixed
/// `sk-...` prefix).
pub const MIN_HINT_SUFFIX: usize = 2;

/// One key as its provider describes it. Holds no key material: `hint` is the provider's own
/// masked view, which every provider shows in its console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// The provider's id for the key (as asked).
    pub id: String,
    /// The ownership hint (Anthropic `partial_key_hint`, OpenAI `redacted_value`, OpenRouter
    /// `label`), when the answer has one.
    pub hint: Option<String>,
    /// The key's status where the provider reports one (Anthropic `active`/`inactive`/
    /// `archived`/`expired`; OpenRouter `disabled` or `active`).
    pub status: Option<String>,
    /// When the key was last used (OpenAI `last_used_at`), if reported.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the key expires at the provider, if it does.
    pub expires_at: Option<DateTime<Utc>>,
}

impl KeyRecord {
    /// Whether this record's hint shows `value`'s first and last characters (see
    /// [`hint_matches`]); `false` without a hint.
    pub fn matches(&self, value: &SecretValue) -> bool {
        self.hint
            .as_deref()
            .is_some_and(|hint| hint_matches(hint, value.expose()))
    }
}

impl KeyRecord {
    /// Whether `identified` (what the provider answered a request made with a value) describes
    /// the key this record (the admin lookup of an id) does: the same `label`, which both must
    /// show, and the same expiry where both show one. Neither field is secret.
    pub fn same_key_as(&self, identified: &KeyRecord) -> bool {
        let same_hint = matches!((&self.hint, &identified.hint), (Some(a), Some(b)) if a == b);
        let same_expiry = match (self.expires_at, identified.expires_at) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        same_hint && same_expiry
    }
}

/// Whether `hint` (`<prefix>...<suffix>`, or with `…`) describes `value`: `value` starts with
/// the prefix and ends with the suffix, the two do not overlap in `value`, and the hint shows at
/// least [`MIN_HINT_CHARS`] characters, [`MIN_HINT_SUFFIX`] of them at the end.
pub fn hint_matches(hint: &str, value: &str) -> bool {
    let Some((prefix, suffix)) = hint
        .split_once("...")
        .or_else(|| hint.split_once('\u{2026}'))
    else {
        return false;
    };
    let shown = prefix.len() + suffix.len();
    if shown < MIN_HINT_CHARS || suffix.len() < MIN_HINT_SUFFIX || value.len() < shown {
        return false;
    }
    let v = value.as_bytes();
    let head = v[..prefix.len()].ct_eq(prefix.as_bytes());
    let tail = v[v.len() - suffix.len()..].ct_eq(suffix.as_bytes());
    bool::from(head & tail)
}

/// A provider timestamp: Unix seconds (OpenAI) or RFC 3339 (Anthropic, OpenRouter); `None`
/// for null, absent or unreadable.
pub(crate) fn timestamp(v: Option<&Value>) -> Option<DateTime<Utc>> {
    match v? {
        Value::Number(n) => Utc.timestamp_opt(n.as_i64()?, 0).single(),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

/// A short string field of a record (at most 256 characters, no control characters), so a
/// hostile answer cannot put a body's worth of text into a record.
pub(crate) fn short_field(json: &Value, pointer: &str) -> Option<String> {
    json.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| s.len() <= 256 && !s.chars().any(char::is_control))
        .map(str::to_string)
}

/// Reads a one-key lookup answer: the record `parse` builds from the 2xx JSON, `None` for the
/// provider's own 404 (no such key), else the admin error (`error_pointers` locate the
/// provider's error token).
pub(crate) fn interpret_lookup(
    ex: super::http::Exchange,
    id: &str,
    error_pointers: &[&str],
    parse: fn(&Value, &str) -> KeyRecord,
) -> Result<Option<KeyRecord>, super::ProviderError> {
    use super::classify::{admin_error, admin_failure, is_provider_not_found, token};
    let reply = ex.map_err(|f| admin_failure(&f))?;
    let json = reply.json();
    if (200..300).contains(&reply.status) {
        return match json.as_ref().filter(|j| j.is_object()) {
            Some(j) => Ok(Some(parse(j, id))),
            None => Err(super::ProviderError::Protocol(
                "a key lookup answer that is not a JSON object".to_string(),
            )),
        };
    }
    if is_provider_not_found(&reply) {
        return Ok(None);
    }
    let tok = token(json.as_ref(), error_pointers);
    Err(admin_error(&reply, tok.as_deref(), "key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "sk-ant-api03-R2DxxxxxxxxxxxxxxxxxxxxigAA";

    #[test]
    fn a_hint_matches_the_value_it_shows() {
        assert!(hint_matches("sk-ant-api03-R2D...igAA", VALUE));
        assert!(hint_matches("sk-ant-api03-R2D\u{2026}igAA", VALUE));
        assert!(hint_matches("sk-ant...igAA", VALUE));
    }

    #[test]
    fn a_hint_of_another_value_does_not_match() {
        assert!(!hint_matches("sk-ant-api03-R2E...igAA", VALUE));
        assert!(!hint_matches("sk-ant-api03-R2D...igAB", VALUE));
        assert!(!hint_matches(
            "sk-ant-api03-R2D...igAA",
            "sk-ant-api03-R2D-igAB"
        ));
    }

    #[test]
    fn a_hint_that_shows_too_little_proves_nothing() {
        // No separator, too few characters, no suffix, or a hint longer than the value.
        assert!(!hint_matches(VALUE, VALUE));
        assert!(!hint_matches("sk-...AA", VALUE));
        assert!(!hint_matches("sk-ant-api03-R2D...", VALUE));
        assert!(!hint_matches("...igAA", VALUE));
        assert!(!hint_matches("", VALUE));
        assert!(!hint_matches(
            "sk-ant-api03-R2D...igAA",
            "sk-ant-api03-R2igAA"
        ));
        // Prefix and suffix may not overlap in the value.
        assert!(!hint_matches("sk-ant-ap...api03", "sk-ant-api03"));
    }

    #[test]
    fn records_without_a_hint_match_nothing() {
        let record = KeyRecord {
            id: "apikey_01".into(),
            hint: None,
            status: None,
            last_used_at: None,
            expires_at: None,
        };
        assert!(!record.matches(&SecretValue::new(VALUE.to_string())));
    }

    #[test]
    fn timestamps_in_either_form() {
        let unix = timestamp(Some(&serde_json::json!(1711471533)));
        assert_eq!(unix.map(|t| t.timestamp()), Some(1711471533));
        let text = timestamp(Some(&serde_json::json!("2026-01-05T10:00:00Z")));
        assert_eq!(text.map(|t| t.timestamp()), Some(1767607200));
        assert_eq!(timestamp(Some(&Value::Null)), None);
        assert_eq!(timestamp(None), None);
    }
}
