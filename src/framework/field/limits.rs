//! Size limits of field values, checked after coercion so that no handler ever sees (or stores,
//! or logs the length of) an oversized value.
//!
//! Every text is bounded: a field's own [`Field::max_len`] or [`DEFAULT_MAX_LEN`], and a
//! [`Field::sensitive`] one (a secret) is never empty or only whitespace. Maps follow
//! Vault KV v2's `custom_metadata` limits; lists are bounded in items and per item. Messages give
//! sizes, never the value.

use super::coerce::FieldValue;
use super::{Field, FieldType};

/// Longest text (in bytes) of a string field, or of each list item, unless the field sets its
/// own [`Field::max_len`].
pub const DEFAULT_MAX_LEN: usize = 1024;
/// Most pairs in a map field (KV v2's `custom_metadata` limit).
pub(super) const MAX_MAP_PAIRS: usize = 64;
/// Longest map key in bytes (KV v2).
pub(super) const MAX_MAP_KEY_LEN: usize = 128;
/// Longest map value in bytes (KV v2).
pub(super) const MAX_MAP_VALUE_LEN: usize = 512;
/// Most items in a list field.
pub(super) const MAX_LIST_ITEMS: usize = 64;

/// Checks `value` of `field` against its limits; `Err` describes the problem.
pub(crate) fn check(field: &Field, value: &FieldValue) -> Result<(), String> {
    let max_len = field.max_len.unwrap_or(DEFAULT_MAX_LEN);
    match value {
        FieldValue::Str(s) if field.kind == FieldType::String => {
            if field.sensitive && s.trim().is_empty() {
                // A blank secret is a mistake (an unset shell variable), never a value.
                return Err("must not be empty or only whitespace: a secret is never blank".into());
            }
            check_len(s, max_len, "")?;
            if field.id_alphabet {
                check_id(s)?;
            }
            Ok(())
        }
        FieldValue::Map(m) => {
            if m.len() > MAX_MAP_PAIRS {
                return Err(format!(
                    "at most {MAX_MAP_PAIRS} pairs are allowed, got {}",
                    m.len()
                ));
            }
            for (k, v) in m {
                check_len(k, MAX_MAP_KEY_LEN, "keys ")?;
                check_len(v, MAX_MAP_VALUE_LEN, "values ")?;
            }
            Ok(())
        }
        FieldValue::List(items) => {
            if items.len() > MAX_LIST_ITEMS {
                return Err(format!(
                    "at most {MAX_LIST_ITEMS} items are allowed, got {}",
                    items.len()
                ));
            }
            items
                .iter()
                .try_for_each(|i| check_len(i, max_len, "items "))
        }
        _ => Ok(()),
    }
}

fn check_len(s: &str, max: usize, what: &str) -> Result<(), String> {
    if s.len() > max {
        Err(format!(
            "{what}must be at most {max} bytes long, got {}",
            s.len()
        ))
    } else {
        Ok(())
    }
}

/// A provider's id alphabet: letters, digits, `_`, `-`, `.`, and not only dots (the id goes
/// into a URL path at the provider). The empty string passes: handlers read it as "unset".
fn check_id(s: &str) -> Result<(), String> {
    let alphabet = s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'));
    if alphabet && (s.is_empty() || !s.bytes().all(|c| c == b'.')) {
        Ok(())
    } else {
        Err("must use only letters, digits, '_', '-' or '.' (and not only dots)".into())
    }
}
