//! Typed fields of a path and the validated values handed to handlers.

use std::sync::Arc;

use serde_json::Value;

mod coerce;
mod data;
mod limits;

pub use coerce::is_valid_name;
use coerce::{coerce, FieldValue};
pub use data::FieldData;
pub use limits::DEFAULT_MAX_LEN;
pub(crate) use limits::{
    ID_PATTERN, MAX_LIST_ITEMS, MAX_MAP_KEY_LEN, MAX_MAP_PAIRS, MAX_MAP_VALUE_LEN,
};

/// How a field's value is coerced (the Go framework's type in parentheses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Text (Go `TypeString`): a JSON string; numbers and booleans become their text.
    String,
    /// (Go `TypeBool`): a JSON boolean or a Go `strconv.ParseBool` string
    /// (`1 t T TRUE true True 0 f F FALSE false False`).
    Bool,
    /// (Go `TypeInt64`): a JSON integer or a decimal string, within `i64`.
    Int,
    /// Non-negative seconds (Go `TypeDurationSecond`): see [`super::parse_duration`].
    Duration,
    /// A point in time (Go `TypeTime`): RFC 3339 (any offset, kept as UTC) or
    /// integer Unix seconds (number or string).
    Time,
    /// String-to-string map (Go `TypeKVPairs`): a JSON object of scalars, a list
    /// of `"k=v"` strings, or a string `"k=v,k2=v2"`.
    Map,
    /// List of strings (Go `TypeCommaStringSlice`): a JSON list of scalars, or a
    /// comma-separated string (parts trimmed, empty parts dropped).
    StringList,
    /// A name (Go `TypeNameString`) following api.md: letters, digits, `_`, `-`,
    /// `.`, starting and ending with a letter or digit, 1 to 128 characters.
    Name,
}

impl FieldType {
    /// The type name shown in path help, as Vault spells it.
    pub fn help_name(&self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Bool => "bool",
            FieldType::Int => "int",
            FieldType::Duration => "duration (sec)",
            FieldType::Time => "time",
            FieldType::Map => "keypair",
            FieldType::StringList => "slice",
            FieldType::Name => "name string",
        }
    }
}

/// A declared field of a path.
#[derive(Clone, Debug)]
pub struct Field {
    /// Field name, as it appears in request data or as a named capture.
    pub name: String,
    /// How the value is coerced and validated.
    pub kind: FieldType,
    /// Help and OpenAPI description.
    pub description: String,
    /// Value used when the request does not set the field; coerced like a
    /// request value.
    pub default: Option<Value>,
    /// The field must be given (OpenAPI `required`): a create or update without it is a 400
    /// before the handler runs (Go's framework only documents it). Named captures are always
    /// given; a field required on create only is not declared required (the handler says so).
    pub required: bool,
    /// Marks the value as a secret in OpenAPI (`x-vault-displayAttrs.sensitive`); a secret
    /// given empty or only whitespace is refused (an unset shell variable, never a value).
    pub sensitive: bool,
    /// Documented as a query parameter rather than a body field.
    pub query: bool,
    /// Longest accepted text in bytes for a [`FieldType::String`] (or each item of a
    /// [`FieldType::StringList`]); `None` means [`DEFAULT_MAX_LEN`]. Names have their own rule.
    pub max_len: Option<usize>,
    /// Shortest accepted text in bytes for a [`FieldType::String`]; `None`: no minimum.
    pub min_len: Option<usize>,
    /// A regular expression the whole text of a [`FieldType::String`] must match.
    pub pattern: Option<TextPattern>,
    /// The only values a [`FieldType::String`] accepts (OpenAPI `enum`); `None`: any.
    pub allowed: Option<Vec<String>>,
    /// Least accepted value of a [`FieldType::Int`], or of a [`FieldType::Duration`] in seconds
    /// (OpenAPI `minimum`). A duration is never below 0 whatever this says.
    pub min: Option<i64>,
    /// Greatest accepted value of a [`FieldType::Int`], or of a [`FieldType::Duration`] in
    /// seconds (OpenAPI `maximum`). A duration is never above 100 years whatever this says.
    pub max: Option<i64>,
    /// A [`FieldType::Duration`] whose empty string `""` clears the value (see
    /// [`FieldData::get_clearable_duration`]); any other duration field refuses `""`.
    pub clearable: bool,
}

/// A regular expression a text field must match, with what it means (the 400 says that, never
/// the value). Anchored (`^...$`) and written in what ECMA-262 (OpenAPI's `pattern` dialect) and
/// regex-lite (which enforces it here) read alike: literals, classes of ASCII ranges and `\xNN`
/// escapes, groups, `?`, `*`, `+`, `{n,m}` and `|`; no lookaround, no Unicode classes.
#[derive(Clone, Debug)]
pub struct TextPattern {
    regex: Arc<regex_lite::Regex>,
    meaning: String,
}

impl TextPattern {
    /// The expression as written, for OpenAPI's `pattern`.
    pub fn source(&self) -> &str {
        self.regex.as_str()
    }

    /// What a match means, worded as the end of "field \"x\": ...", e.g. "must use only digits".
    pub fn meaning(&self) -> &str {
        &self.meaning
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// Appended to the description of a [`Field::clearable`] field (help and OpenAPI).
pub const CLEARABLE_NOTE: &str = "An empty string (\"\") clears it.";

impl Field {
    /// A field without default, optional, not sensitive.
    pub fn new(name: impl Into<String>, kind: FieldType, description: impl Into<String>) -> Field {
        Field {
            name: name.into(),
            kind,
            description: description.into(),
            default: None,
            required: false,
            sensitive: false,
            query: false,
            max_len: None,
            min_len: None,
            pattern: None,
            allowed: None,
            min: None,
            max: None,
            clearable: false,
        }
    }

    /// Lets the empty string `""` clear this duration field instead of being refused, and says
    /// so in its description ([`CLEARABLE_NOTE`]). Handlers read it with
    /// [`FieldData::get_clearable_duration`].
    ///
    /// # Panics
    /// On a field that is not a [`FieldType::Duration`] (a programmer error).
    pub fn clearable(mut self) -> Field {
        assert!(
            self.kind == FieldType::Duration,
            "field {:?}: only duration fields are clearable",
            self.name
        );
        self.clearable = true;
        self.description = format!("{} {CLEARABLE_NOTE}", self.description.trim_end());
        self
    }

    /// Sets the longest accepted text, in bytes (see [`Field::max_len`]).
    pub fn max_len(mut self, bytes: usize) -> Field {
        self.max_len = Some(bytes);
        self
    }

    /// Sets the shortest accepted text, in bytes (1: the text must not be empty).
    pub fn min_len(mut self, bytes: usize) -> Field {
        self.min_len = Some(bytes);
        self
    }

    /// Restricts the text to a provider id's alphabet: letters, digits, `_`, `-`, `.`, and not
    /// only dots (it goes into a URL path at the provider); the empty string passes (handlers
    /// read it as unset).
    pub fn id_alphabet(self) -> Field {
        self.pattern(
            ID_PATTERN,
            "must use only letters, digits, '_', '-' or '.' (and not only dots)",
        )
    }

    /// The whole text must match `regex` (see [`TextPattern`]); `meaning` words the rule for
    /// the 400 ("must use only ...").
    ///
    /// # Panics
    /// If `regex` does not compile or is not anchored with `^` and `$` (a declaration bug,
    /// caught by the first test that builds the path).
    pub fn pattern(mut self, regex: &str, meaning: &str) -> Field {
        assert!(
            regex.starts_with('^') && regex.ends_with('$'),
            "pattern of field {:?} must be anchored (^...$): {regex}",
            self.name
        );
        let compiled = regex_lite::Regex::new(regex)
            .unwrap_or_else(|e| panic!("pattern of field {:?} is invalid: {e}", self.name));
        self.pattern = Some(TextPattern {
            regex: Arc::new(compiled),
            meaning: meaning.to_owned(),
        });
        self
    }

    /// Accepts only these values (OpenAPI `enum`). List `""` when the handler reads the empty
    /// string as "unset".
    pub fn allowed(mut self, values: &[&str]) -> Field {
        self.allowed = Some(values.iter().map(|v| (*v).to_owned()).collect());
        self
    }

    /// Sets the least accepted value (a duration's in seconds).
    pub fn min(mut self, least: i64) -> Field {
        self.min = Some(least);
        self
    }

    /// Sets the greatest accepted value (a duration's in seconds).
    pub fn max(mut self, greatest: i64) -> Field {
        self.max = Some(greatest);
        self
    }

    /// Coerces a request value and checks its limits; `Err` names the problem, never the value.
    fn validate(&self, v: &Value) -> Result<FieldValue, String> {
        if self.kind == FieldType::Duration && v.as_str() == Some("") {
            // Vault reads "" as 0, which on a grace period revokes at once: an unset shell
            // variable must never mean that.
            return if self.clearable {
                Ok(FieldValue::Cleared)
            } else {
                Err("must not be empty: give a duration such as 30d, 24h or 0".into())
            };
        }
        let value = coerce(self.kind, v)?;
        limits::check(self, &value)?;
        Ok(value)
    }

    /// Sets the default value. [`super::Path::field`] panics if it does not
    /// coerce to the field's type.
    pub fn default(mut self, v: Value) -> Field {
        self.default = Some(v);
        self
    }

    /// Marks the field required in the documentation.
    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }

    /// Marks the field as holding a secret.
    pub fn sensitive(mut self) -> Field {
        self.sensitive = true;
        self
    }

    /// Documents the field as a query parameter.
    pub fn query(mut self) -> Field {
        self.query = true;
        self
    }

    /// Coerces the default, if any; `Err` names the problem.
    pub(super) fn check_default(&self) -> Result<(), String> {
        match &self.default {
            Some(v) => self.validate(v).map(|_| ()),
            None => Ok(()),
        }
    }

    /// Checks that each constraint suits the field's type and that the bounds are in order;
    /// `Err` names the problem (a declaration bug).
    pub(super) fn check_constraints(&self) -> Result<(), String> {
        limits::check_declaration(self)
    }

    /// The default as the document shows it: integers, durations (seconds) and booleans as
    /// the value the field would hold (a duration declared as `"1h"` shows 3600, so that the
    /// default has the schema's type); other defaults as declared.
    pub(crate) fn default_json(&self) -> Option<Value> {
        let raw = self.default.as_ref()?;
        Some(match self.validate(raw) {
            Ok(FieldValue::Int(i)) => Value::from(i),
            Ok(FieldValue::Bool(b)) => Value::from(b),
            _ => raw.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
