//! Tests of typed fields, by subject: [`coercion`] of each field type, declared [`limits`]
//! (lengths, bounds, allowed values, patterns), the [`data`] handlers read, and [`empty`] values
//! (a duration's `""`, clearable fields, blank secrets). The helpers below are theirs.

mod coercion;
mod data;
mod empty;
mod limits;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::coerce::{coerce, FieldValue};
use super::*;

fn ok(kind: FieldType, input: Value) -> FieldValue {
    coerce(kind, &input).unwrap_or_else(|e| panic!("{kind:?} {input}: {e}"))
}

fn bad(kind: FieldType, input: Value) -> String {
    match coerce(kind, &input) {
        Ok(v) => panic!("{kind:?} {input} accepted as {v:?}"),
        Err(e) => e,
    }
}

fn s(v: &str) -> FieldValue {
    FieldValue::Str(v.into())
}

fn map(pairs: &[(&str, &str)]) -> FieldValue {
    FieldValue::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn list(items: &[&str]) -> FieldValue {
    FieldValue::List(items.iter().map(|s| s.to_string()).collect())
}

fn time(rfc3339: &str) -> FieldValue {
    FieldValue::Time(rfc3339.parse::<DateTime<Utc>>().unwrap())
}

fn fields() -> Vec<Field> {
    vec![
        Field::new("name", FieldType::Name, "the name"),
        Field::new("ttl", FieldType::Duration, "ttl").default(json!("1h")),
        Field::new("flag", FieldType::Bool, "flag"),
        Field::new("count", FieldType::Int, "count").default(json!(3)),
        Field::new("when", FieldType::Time, "when"),
        Field::new("tags", FieldType::Map, "tags").default(json!({"env": "prod"})),
        Field::new("scopes", FieldType::StringList, "scopes"),
        Field::new("note", FieldType::String, "note"),
    ]
}

fn data(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// The 400 of `field` for `v` (panics if accepted), or `Ok` when accepted.
fn verdict(field: Field, v: Value) -> Result<(), String> {
    let fields = [field];
    FieldData::new(&fields, &data(json!({ "f": v })))
        .map(|_| ())
        .map_err(|e| {
            assert_eq!(e.status(), 400, "{e}");
            let msg = e.to_string();
            assert!(
                msg.starts_with("Field validation failed: field \"f\": "),
                "the message names the field: {msg}"
            );
            msg
        })
}
