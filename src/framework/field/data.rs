//! The validated values of one request, as handlers read them: coerced request data and
//! captures, with the declared defaults; getters by type.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::super::error::Error;
use super::coerce::FieldValue;
use super::{Field, FieldType};

/// The validated values of a request for one path: request data and named
/// captures, coerced by field type, plus the declared defaults.
///
/// # Panics
/// Every getter panics when `name` is not a declared field of the path, or
/// when the field's type does not match the getter (`get_string` serves
/// [`FieldType::String`] and [`FieldType::Name`]; each other getter serves
/// the type of the same name, `get_list` serving [`FieldType::StringList`]).
/// Both are programmer errors, caught by the first test that touches the path.
#[derive(Clone)]
pub struct FieldData {
    schema: BTreeMap<String, Field>,
    values: BTreeMap<String, FieldValue>,
}

impl FieldData {
    /// Validates every declared field present (and not `null`) in `raw`.
    /// Undeclared keys are ignored. The error is
    /// `Field validation failed: field "<name>": <problem>` and never
    /// contains the offending value.
    pub fn new(fields: &[Field], raw: &Map<String, Value>) -> Result<FieldData, Error> {
        let schema: BTreeMap<String, Field> =
            fields.iter().map(|f| (f.name.clone(), f.clone())).collect();
        let mut values = BTreeMap::new();
        for (name, field) in &schema {
            match raw.get(name) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    let value = field.validate(v).map_err(|problem| {
                        Error::BadRequest(format!(
                            "Field validation failed: field \"{name}\": {problem}"
                        ))
                    })?;
                    values.insert(name.clone(), value);
                }
            }
        }
        Ok(FieldData { schema, values })
    }

    /// Like [`FieldData::new`], but a value that fails validation is left out (as if the
    /// request had not set it) instead of failing. For the existence check, which only needs
    /// the path's name: a bad field value is the handler's 400 to give, not a failed existence
    /// check (which the host logs at ERROR and answers with a 500 or a wrapped message).
    pub fn lenient(fields: &[Field], raw: &Map<String, Value>) -> FieldData {
        let schema: BTreeMap<String, Field> =
            fields.iter().map(|f| (f.name.clone(), f.clone())).collect();
        let values = schema
            .iter()
            .filter_map(|(name, field)| match raw.get(name) {
                None | Some(Value::Null) => None,
                Some(v) => field.validate(v).ok().map(|value| (name.clone(), value)),
            })
            .collect();
        FieldData { schema, values }
    }

    /// The request value, else the default, else `None`.
    pub fn get_string(&self, name: &str) -> Option<String> {
        match self.lookup(name, "get_string", &[FieldType::String, FieldType::Name])? {
            FieldValue::Str(s) => Some(s),
            other => unreachable!("{other:?}"),
        }
    }

    /// The request value, else the default, else `None`.
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        match self.lookup(name, "get_bool", &[FieldType::Bool])? {
            FieldValue::Bool(b) => Some(b),
            other => unreachable!("{other:?}"),
        }
    }

    /// The request value, else the default, else `None`.
    pub fn get_int(&self, name: &str) -> Option<i64> {
        match self.lookup(name, "get_int", &[FieldType::Int])? {
            FieldValue::Int(i) => Some(i),
            other => unreachable!("{other:?}"),
        }
    }

    /// The request value in seconds, else the default, else `None`.
    ///
    /// # Panics
    /// On a [`Field::clearable`] field: read it with [`FieldData::get_clearable_duration`], so
    /// that a clear is never taken for an absent value.
    pub fn get_duration(&self, name: &str) -> Option<i64> {
        if self.schema.get(name).is_some_and(|f| f.clearable) {
            panic!("get_duration({name:?}): the field is clearable; use get_clearable_duration");
        }
        match self.lookup(name, "get_duration", &[FieldType::Duration])? {
            FieldValue::Int(i) => Some(i),
            other => unreachable!("{other:?}"),
        }
    }

    /// A duration field that may be cleared ([`Field::clearable`]): `None` when the request
    /// does not set it (and it has no default), `Some(None)` when it clears it with `""`,
    /// `Some(Some(seconds))` for a value. Also reads a duration field that is not clearable
    /// (never `Some(None)` then).
    pub fn get_clearable_duration(&self, name: &str) -> Option<Option<i64>> {
        match self.lookup(name, "get_clearable_duration", &[FieldType::Duration])? {
            FieldValue::Int(i) => Some(Some(i)),
            FieldValue::Cleared => Some(None),
            other => unreachable!("{other:?}"),
        }
    }

    /// The request value (UTC), else the default, else `None`.
    pub fn get_time(&self, name: &str) -> Option<DateTime<Utc>> {
        match self.lookup(name, "get_time", &[FieldType::Time])? {
            FieldValue::Time(t) => Some(t),
            other => unreachable!("{other:?}"),
        }
    }

    /// The request value, else the default, else `None`.
    pub fn get_map(&self, name: &str) -> Option<BTreeMap<String, String>> {
        match self.lookup(name, "get_map", &[FieldType::Map])? {
            FieldValue::Map(m) => Some(m),
            other => unreachable!("{other:?}"),
        }
    }

    /// The request value, else the default, else `None`.
    pub fn get_list(&self, name: &str) -> Option<Vec<String>> {
        match self.lookup(name, "get_list", &[FieldType::StringList])? {
            FieldValue::List(l) => Some(l),
            other => unreachable!("{other:?}"),
        }
    }

    /// Whether the request (body, query or path capture) set the field to a
    /// non-null value (a clear included); defaults do not count. Undeclared names are never set.
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    fn lookup(&self, name: &str, getter: &str, kinds: &[FieldType]) -> Option<FieldValue> {
        let Some(field) = self.schema.get(name) else {
            panic!("{getter}({name:?}): no such field is declared on this path");
        };
        if !kinds.contains(&field.kind) {
            panic!(
                "{getter}({name:?}): the field is declared as {:?}",
                field.kind
            );
        }
        if let Some(v) = self.values.get(name) {
            return Some(v.clone());
        }
        let default = field.default.as_ref()?;
        match field.validate(default) {
            Ok(v) => Some(v),
            Err(problem) => panic!("default of field {name:?} is invalid: {problem}"),
        }
    }
}

impl fmt::Debug for FieldData {
    /// Lists the names that are set, never the values (they may be secrets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldData")
            .field("declared", &self.schema.keys().collect::<Vec<_>>())
            .field("set", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}
