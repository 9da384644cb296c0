//! Vault's loose coercion of request values (field_data.go, parseutil).
//!
//! Problems are described without the offending value, which may be a
//! secret typed into the wrong field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::FieldType;
use crate::framework::duration::{check_duration_bounds, parse_duration, too_long};
use crate::framework::request::kind_of;

/// Longest name accepted by [`FieldType::Name`].
const MAX_NAME_LEN: usize = 128;

/// A coerced value. Durations are stored as [`FieldValue::Int`] seconds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FieldValue {
    /// `""` given to a clearable field (see `Field::clearable`).
    Cleared,
    Str(String),
    Bool(bool),
    Int(i64),
    Time(DateTime<Utc>),
    Map(BTreeMap<String, String>),
    List(Vec<String>),
}

/// Coerces a non-null JSON value to `kind`, or describes the problem.
pub(crate) fn coerce(kind: FieldType, v: &Value) -> Result<FieldValue, String> {
    match kind {
        FieldType::String => scalar_text(v)
            .map(FieldValue::Str)
            .ok_or_else(|| format!("expected a string, got {}", kind_of(v))),
        FieldType::Bool => coerce_bool(v).map(FieldValue::Bool),
        FieldType::Int => coerce_int(v).map(FieldValue::Int),
        FieldType::Duration => match parse_duration(v) {
            Ok(secs) => check_duration_bounds(secs).map(FieldValue::Int),
            Err(e) if e.contains("out of range") => match v.as_str() {
                Some(text) if text.trim_start().starts_with('-') => {
                    check_duration_bounds(-1).map(FieldValue::Int)
                }
                _ => Err(too_long()),
            },
            Err(e) => Err(e),
        },
        FieldType::Time => coerce_time(v).map(FieldValue::Time),
        FieldType::Map => coerce_map(v).map(FieldValue::Map),
        FieldType::StringList => coerce_list(v).map(FieldValue::List),
        FieldType::Name => {
            let s = scalar_text(v)
                .ok_or_else(|| format!("expected a name string, got {}", kind_of(v)))?;
            if is_valid_name(&s) {
                Ok(FieldValue::Str(s))
            } else {
                Err(format!(
                    "invalid name: use 1 to {MAX_NAME_LEN} letters, digits, '_', '-' or '.', \
                     starting and ending with a letter or digit"
                ))
            }
        }
    }
}

/// Whether `s` is a valid name (api.md): ASCII letters, digits, `_`, `-`,
/// `.`; first and last character a letter or digit; 1 to 128 characters.
pub fn is_valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            b.len() <= MAX_NAME_LEN
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        }
        _ => false,
    }
}

/// A string, or the text of a number or boolean.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn coerce_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            _ => Err("expected a boolean (true or false)".into()),
        },
        _ => Err(format!("expected a boolean, got {}", kind_of(v))),
    }
}

fn coerce_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None if n.is_u64() => Err("integer out of range".into()),
            None => Err("expected an integer, got a fractional number".into()),
        },
        Value::String(s) => parse_int_text(s),
        _ => Err(format!("expected an integer, got {}", kind_of(v))),
    }
}

fn parse_int_text(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
            "integer out of range".to_owned()
        }
        _ => "expected an integer".to_owned(),
    })
}

fn coerce_time(v: &Value) -> Result<DateTime<Utc>, String> {
    let secs = match v {
        Value::String(s) => {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return check_time_bounds(t.with_timezone(&Utc));
            }
            parse_int_text(s).map_err(|_| {
                "expected an RFC 3339 time (2026-11-25T18:31:59Z) or Unix seconds".to_owned()
            })?
        }
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| "expected whole Unix seconds".to_owned())?,
        _ => return Err(format!("expected a time, got {}", kind_of(v))),
    };
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(time_out_of_range)
        .and_then(check_time_bounds)
}

/// The earliest time a field accepts: the Unix epoch, 1970-01-01T00:00:00Z.
pub(crate) const MIN_TIME_SECS: i64 = 0;
/// The latest time a field accepts: 9999-12-31T23:59:59Z (the last second RFC 3339 can write).
pub(crate) const MAX_TIME_SECS: i64 = 253_402_300_799;

fn check_time_bounds(t: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if (MIN_TIME_SECS..=MAX_TIME_SECS).contains(&t.timestamp()) {
        Ok(t)
    } else {
        Err(time_out_of_range())
    }
}

fn time_out_of_range() -> String {
    "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z".to_owned()
}

fn coerce_map(v: &Value) -> Result<BTreeMap<String, String>, String> {
    match v {
        Value::Object(obj) => obj
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::Null => Some(String::new()),
                    other => scalar_text(other),
                };
                text.map(|t| (k.clone(), t))
                    .ok_or_else(|| "map values must be strings, numbers or booleans".to_owned())
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => split_pair(s),
                _ => Err("expected a list of \"key=value\" strings".to_owned()),
            })
            .collect(),
        Value::String(s) => comma_parts(s).map(split_pair).collect(),
        _ => Err(format!("expected a map, got {}", kind_of(v))),
    }
}

fn split_pair(pair: &str) -> Result<(String, String), String> {
    match pair.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("expected \"key=value\" pairs with a non-empty key".to_owned()),
    }
}

fn coerce_list(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                scalar_text(item)
                    .map(|s| s.trim().to_owned())
                    .ok_or_else(|| "list items must be strings, numbers or booleans".to_owned())
            })
            .collect(),
        Value::String(s) => Ok(comma_parts(s).map(str::to_owned).collect()),
        Value::Number(_) | Value::Bool(_) => Ok(scalar_text(v).into_iter().collect()),
        _ => Err(format!("expected a list, got {}", kind_of(v))),
    }
}

/// Comma-separated parts, trimmed, empty ones dropped.
fn comma_parts(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty())
}
