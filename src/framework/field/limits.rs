//! Limits and declared constraints of field values, checked after coercion so that no handler
//! ever sees (or stores, or logs the length of) a value outside its field's declaration.
//!
//! Every text is bounded: a field's own [`Field::max_len`] or [`DEFAULT_MAX_LEN`], and a
//! [`Field::sensitive`] one (a secret) is never empty or only whitespace. Maps follow Vault KV
//! v2's `custom_metadata` limits; lists are bounded in items and per item. Then what a field
//! declares: a shortest text, a pattern, allowed values, least and greatest numbers. The checks
//! run in that order, so an oversized value is refused for its size before anything reads it.
//! Messages give sizes and bounds, never the value.

use super::coerce::FieldValue;
use super::{Field, FieldType};

/// Longest text (in bytes) of a string field, or of each list item, unless the field sets its
/// own [`Field::max_len`].
pub const DEFAULT_MAX_LEN: usize = 1024;
/// Most pairs in a map field (KV v2's `custom_metadata` limit).
pub(crate) const MAX_MAP_PAIRS: usize = 64;
/// Longest map key in bytes (KV v2).
pub(crate) const MAX_MAP_KEY_LEN: usize = 128;
/// Longest map value in bytes (KV v2).
pub(crate) const MAX_MAP_VALUE_LEN: usize = 512;
/// Most items in a list field.
pub(crate) const MAX_LIST_ITEMS: usize = 64;
/// A provider id's alphabet ([`Field::id_alphabet`]): letters, digits, `_`, `-`, `.`, at least
/// one of them not a dot, or nothing.
pub(crate) const ID_PATTERN: &str = "^([A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*)?$";

/// Checks `value` of `field` against its limits and constraints; `Err` describes the problem.
pub(crate) fn check(field: &Field, value: &FieldValue) -> Result<(), String> {
    let max_len = field.max_len.unwrap_or(DEFAULT_MAX_LEN);
    match value {
        FieldValue::Str(s) if field.kind == FieldType::String => {
            if field.sensitive && s.trim().is_empty() {
                // A blank secret is a mistake (an unset shell variable), never a value.
                return Err("must not be empty or only whitespace: a secret is never blank".into());
            }
            check_len(s, max_len, "")?;
            if let Some(min) = field.min_len {
                check_min_len(s, min)?;
            }
            if let Some(pattern) = &field.pattern {
                if !pattern.matches(s) {
                    return Err(pattern.meaning().to_owned());
                }
            }
            if let Some(allowed) = &field.allowed {
                if !allowed.iter().any(|a| a == s) {
                    return Err(format!("must be one of {}", allowed_text(allowed)));
                }
            }
            Ok(())
        }
        FieldValue::Int(i) => check_range(field, *i),
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

fn check_min_len(s: &str, min: usize) -> Result<(), String> {
    match min {
        _ if s.len() >= min => Ok(()),
        1 => Err("must not be empty".into()),
        _ => Err(format!(
            "must be at least {min} bytes long, got {}",
            s.len()
        )),
    }
}

/// The allowed values for a message or a document: `a, b` (`""` for the empty string).
pub(crate) fn allowed_text(allowed: &[String]) -> String {
    allowed
        .iter()
        .map(|a| {
            if a.is_empty() {
                "\"\"".to_owned()
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An integer (or a duration in seconds) against the field's `min` and `max`. A least value of
/// 1 alone reads "greater than zero"; durations show their unit (`300s`).
fn check_range(field: &Field, i: i64) -> Result<(), String> {
    let (min, max) = (field.min, field.max);
    if min.is_none_or(|m| i >= m) && max.is_none_or(|m| i <= m) {
        return Ok(());
    }
    let show = |v: i64| match field.kind {
        FieldType::Duration => format!("{v}s"),
        _ => v.to_string(),
    };
    Err(match (min, max) {
        (Some(1), None) => "must be greater than zero".to_owned(),
        (Some(lo), Some(hi)) => format!("must be between {} and {}", show(lo), show(hi)),
        (Some(lo), None) => format!("must be at least {}", show(lo)),
        (None, Some(hi)) => format!("must be at most {}", show(hi)),
        (None, None) => String::new(),
    })
}

/// Each constraint suits the field's type, and the bounds are in order.
pub(super) fn check_declaration(field: &Field) -> Result<(), String> {
    let text = field.kind == FieldType::String;
    let number = matches!(field.kind, FieldType::Int | FieldType::Duration);
    if !text && (field.min_len.is_some() || field.pattern.is_some() || field.allowed.is_some()) {
        return Err(format!(
            "min_len, pattern and allowed apply to string fields, not {:?}",
            field.kind
        ));
    }
    if !number && (field.min.is_some() || field.max.is_some()) {
        return Err(format!(
            "min and max apply to int and duration fields, not {:?}",
            field.kind
        ));
    }
    if let (Some(lo), Some(hi)) = (field.min, field.max) {
        if lo > hi {
            return Err(format!("min {lo} is greater than max {hi}"));
        }
    }
    if let Some(min) = field.min_len {
        if min > field.max_len.unwrap_or(DEFAULT_MAX_LEN) {
            return Err(format!("min_len {min} is greater than the longest text"));
        }
    }
    Ok(())
}
