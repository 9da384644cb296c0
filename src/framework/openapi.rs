//! OpenAPI 3.0.2 documents in the shape `sdk/framework` produces, so that
//! the host can merge them into `sys/internal/specs/openapi`.
//!
//! # Constraints
//!
//! Every constraint the framework enforces on a field is stated in its schema, from the same
//! declaration, so that a client generated from the document, or a schema-driven fuzzer, sends
//! data the engine accepts:
//!
//! - text: `maxLength` (the field's, or [`DEFAULT_MAX_LEN`]), `minLength`, `pattern`
//!   ([`Field::pattern`], [`Field::id_alphabet`]; names have the name rule's pattern) and `enum`
//!   ([`Field::allowed`]);
//! - integers: `minimum` and `maximum` ([`Field::min`], [`Field::max`]);
//! - durations: `{"type": "integer", "format": "seconds", "minimum", "maximum"}`, the bounds
//!   being the field's or the framework's own (0 to 100 years). The framework also accepts a
//!   duration as a string (`"90m"`, `"1h30m"`, `"30d"`, see [`super::parse_duration`]), but the
//!   document declares the integer form only: integer seconds express every value and every
//!   bound exactly, which no pattern over the string grammar can (`"99999999h"` matches any
//!   such pattern and is refused), and the host keeps `type` and `format` when it merges the
//!   document into `sys/internal/specs/openapi` but drops `oneOf`, which would leave the field
//!   untyped there. A client generated from the document sends seconds, which is always valid;
//!   people typing `30d` at the CLI are unaffected;
//! - maps: `maxProperties`, `additionalProperties: {"type": "string", "maxLength"}` and, for the
//!   longest key, `x-propertyNames: {"maxLength"}` (`propertyNames` is JSON Schema that OpenAPI
//!   3.0 does not have, and a 3.0 schema may not carry unknown keywords but `x-` extensions);
//! - lists: `maxItems` and `items.maxLength`;
//! - `required` for required body fields (a create or update without one is a 400); path
//!   parameters are always required.
//!
//! Defaults are shown as the value the field takes (a duration's in seconds).
//!
//! The host decodes a plugin's document into Go structs before merging it: `sys/internal/specs/
//! openapi` keeps `type`, `format`, `pattern`, `enum`, `default`, `required` and
//! `additionalProperties` of these, and drops `minimum`, `maximum`, `minLength`, `maxLength`,
//! `maxItems` and `maxProperties`. The plugin's own document (`GET <mount>/?help=1`, or a path's
//! help) carries them all.

use serde_json::{json, Map, Value};

use super::duration::MAX_DURATION_SECS;
use super::field::{
    Field, FieldType, DEFAULT_MAX_LEN, MAX_LIST_ITEMS, MAX_MAP_KEY_LEN, MAX_MAP_PAIRS,
    MAX_MAP_VALUE_LEN,
};
use super::path::Path;
use super::request::Operation;

mod pattern;

/// The `info.description` every framework backend reports.
const DESCRIPTION: &str =
    "HTTP API that gives you full access to OpenBao. All API routes are prefixed with `/v1/`.";

/// The document for `paths`. `prefix` (the mount type, passed by the host as
/// `requestResponsePrefix`) starts every operation id when not empty.
pub(super) fn document(paths: &[&Path], version: &str, prefix: &str) -> Value {
    let mut items = Map::new();
    let mut schemas = Map::new();
    for p in paths {
        document_path(p, prefix, &mut items, &mut schemas);
    }
    json!({
        "openapi": "3.0.2",
        "info": {
            "title": "OpenBao API",
            "description": DESCRIPTION,
            "version": version,
            "license": {
                "name": "Mozilla Public License 2.0",
                "url": "https://www.mozilla.org/en-US/MPL/2.0",
            },
        },
        "paths": items,
        "components": { "schemas": schemas },
    })
}

fn document_path(
    p: &Path,
    prefix: &str,
    items: &mut Map<String, Value>,
    schemas: &mut Map<String, Value>,
) {
    let is_list = p.supports(Operation::List) || p.supports(Operation::Scan);
    let Some(templates) = pattern::expand(&p.pattern, is_list) else {
        // Not expressible as an OpenAPI path: list it without operations,
        // as Go does, so that a reader still sees the route exists.
        let mut item = Map::new();
        insert_nonempty(&mut item, "description", clean(&p.synopsis));
        items.insert(format!("/{}", p.pattern), Value::Object(item));
        return;
    };
    for template in templates {
        let item = path_item(p, &template, prefix, schemas);
        items.insert(format!("/{template}"), Value::Object(item));
    }
}

fn path_item(
    p: &Path,
    template: &str,
    prefix: &str,
    schemas: &mut Map<String, Value>,
) -> Map<String, Value> {
    let path_params = pattern::params(template);
    let mut item = Map::new();
    insert_nonempty(&mut item, "description", clean(&p.synopsis));

    let mut params = Vec::new();
    for name in &path_params {
        let field = p.fields.iter().find(|f| &f.name == name);
        params.push(parameter(name, field, "path", true));
    }
    for f in p
        .fields
        .iter()
        .filter(|f| f.query && !path_params.contains(&f.name))
    {
        params.push(parameter(&f.name, Some(f), "query", false));
    }
    params.sort_by_key(|v| v["name"].as_str().unwrap_or_default().to_lowercase());
    if !params.is_empty() {
        item.insert("parameters".into(), Value::Array(params));
    }
    if p.supports(Operation::Create) {
        item.insert("x-vault-createSupported".into(), Value::Bool(true));
    }

    let body: Vec<&Field> = p
        .fields
        .iter()
        .filter(|f| !f.query && !path_params.contains(&f.name))
        .collect();
    let pick = |ops: &[Operation]| ops.iter().copied().find(|op| p.supports(*op));
    let methods = [
        (
            "get",
            pick(&[Operation::Read, Operation::List, Operation::Scan]),
        ),
        ("post", pick(&[Operation::Update, Operation::Create])),
        ("patch", pick(&[Operation::Patch])),
        ("delete", pick(&[Operation::Delete])),
    ];
    for (method, op) in methods {
        if let Some(op) = op {
            let operation = operation(p, op, template, prefix, &body, schemas);
            item.insert(method.into(), operation);
        }
    }
    item
}

fn operation(
    p: &Path,
    op: Operation,
    template: &str,
    prefix: &str,
    body: &[&Field],
    schemas: &mut Map<String, Value>,
) -> Value {
    let id = operation_id(prefix, op, template);
    let mut o = Map::new();
    if let Some(spec) = p.operation_spec(op) {
        insert_nonempty(&mut o, "summary", clean(&spec.summary));
    }
    o.insert("operationId".into(), Value::from(id.clone()));
    o.insert("tags".into(), json!(["secrets"]));

    let query_flag = |name: &str, required: bool| {
        let (description, schema) = if required {
            (
                "Must be set to `true`",
                json!({"type": "string", "enum": ["true"]}),
            )
        } else if name == "list" {
            ("Return a list if `true`", json!({"type": "string"}))
        } else {
            (
                "Return a recursive list if `true`",
                json!({"type": "string"}),
            )
        };
        json!({"name": name, "description": description, "in": "query", "required": required, "schema": schema})
    };
    let flag = match op {
        Operation::List => Some(query_flag("list", true)),
        Operation::Scan => Some(query_flag("scan", true)),
        Operation::Read if p.supports(Operation::List) => Some(query_flag("list", false)),
        Operation::Read if p.supports(Operation::Scan) => Some(query_flag("scan", false)),
        _ => None,
    };
    if let Some(flag) = flag {
        o.insert("parameters".into(), json!([flag]));
    }

    let writes = matches!(op, Operation::Create | Operation::Update | Operation::Patch);
    if writes && !body.is_empty() {
        let name = format!("{}Request", title_case(&id));
        let schema = request_schema(body, p.strict);
        schemas.insert(name, schema.clone());
        let media = if op == Operation::Patch {
            "application/merge-patch+json"
        } else {
            "application/json"
        };
        // The schema is inlined rather than referenced: the host decodes a plugin's document
        // with mapstructure, whose `$ref` has no tag, so a reference arrives in the merged
        // sys/internal/specs/openapi as an empty schema. The named copy stays in components.
        o.insert(
            "requestBody".into(),
            json!({"required": true, "content": {media: {"schema": schema}}}),
        );
    }
    let responses = if op == Operation::Delete {
        json!({"204": {"description": "empty body"}})
    } else {
        json!({"200": {"description": "OK"}})
    };
    o.insert("responses".into(), responses);
    Value::Object(o)
}

fn request_schema(body: &[&Field], strict: bool) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for f in body {
        properties.insert(f.name.clone(), Value::Object(field_schema(f, true)));
        if f.required {
            required.push(f.name.clone());
        }
    }
    required.sort();
    let mut schema = Map::new();
    schema.insert("type".into(), Value::from("object"));
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    if strict {
        schema.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(schema)
}

fn parameter(name: &str, field: Option<&Field>, location: &str, required: bool) -> Value {
    let mut param = Map::new();
    param.insert("name".into(), Value::from(name));
    if let Some(f) = field {
        insert_nonempty(&mut param, "description", clean(&f.description));
    }
    param.insert("in".into(), Value::from(location));
    let schema = match field {
        Some(f) => field_schema(f, false),
        None => type_schema(FieldType::String),
    };
    param.insert("schema".into(), Value::Object(schema));
    param.insert("required".into(), Value::Bool(required));
    Value::Object(param)
}

/// The schema of a field; the description goes on the parameter for path
/// and query parameters, on the property for body fields.
fn field_schema(f: &Field, with_description: bool) -> Map<String, Value> {
    let mut schema = type_schema(f.kind);
    if with_description {
        insert_nonempty(&mut schema, "description", clean(&f.description));
    }
    if let Some(default) = f.default_json() {
        schema.insert("default".into(), default);
    }
    if f.sensitive {
        schema.insert("x-vault-displayAttrs".into(), json!({"sensitive": true}));
    }
    constraints(f, &mut schema);
    schema
}

/// The constraints the framework enforces on `f`, as schema keywords (see the module docs).
fn constraints(f: &Field, schema: &mut Map<String, Value>) {
    let max_len = f.max_len.unwrap_or(DEFAULT_MAX_LEN);
    match f.kind {
        FieldType::String => {
            schema.insert("maxLength".into(), Value::from(max_len));
            if let Some(min) = f.min_len {
                schema.insert("minLength".into(), Value::from(min));
            }
            if let Some(pattern) = &f.pattern {
                schema.insert("pattern".into(), Value::from(pattern.source()));
            }
            if let Some(allowed) = &f.allowed {
                schema.insert("enum".into(), json!(allowed));
            }
        }
        FieldType::Int => {
            if let Some(min) = f.min {
                schema.insert("minimum".into(), Value::from(min));
            }
            if let Some(max) = f.max {
                schema.insert("maximum".into(), Value::from(max));
            }
        }
        FieldType::Duration => {
            let min = f.min.unwrap_or(0).max(0);
            let max = f.max.unwrap_or(MAX_DURATION_SECS).min(MAX_DURATION_SECS);
            schema.insert("minimum".into(), Value::from(min));
            schema.insert("maximum".into(), Value::from(max));
        }
        FieldType::Map => {
            schema.insert("maxProperties".into(), Value::from(MAX_MAP_PAIRS));
            schema.insert(
                "additionalProperties".into(),
                json!({"type": "string", "maxLength": MAX_MAP_VALUE_LEN}),
            );
            schema.insert(
                "x-propertyNames".into(),
                json!({"maxLength": MAX_MAP_KEY_LEN}),
            );
        }
        FieldType::StringList => {
            schema.insert("maxItems".into(), Value::from(MAX_LIST_ITEMS));
            schema.insert(
                "items".into(),
                json!({"type": "string", "maxLength": max_len}),
            );
        }
        FieldType::Bool | FieldType::Time | FieldType::Name => {}
    }
}

/// Field types as Go's `convertType` maps them.
fn type_schema(kind: FieldType) -> Map<String, Value> {
    let v = match kind {
        FieldType::String => json!({"type": "string"}),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Int => json!({"type": "integer", "format": "int64"}),
        FieldType::Duration => json!({"type": "integer", "format": "seconds"}),
        FieldType::Time => json!({"type": "string", "format": "date-time"}),
        FieldType::Map => json!({
            "type": "object", "format": "kvpairs", "additionalProperties": {"type": "string"}
        }),
        FieldType::StringList => json!({"type": "array", "items": {"type": "string"}}),
        FieldType::Name => json!({
            "type": "string", "pattern": "^[A-Za-z0-9]([A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?$"
        }),
    };
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// `[prefix-]verb-suffix`, lower case, the suffix being the path's words
/// joined by `-` (`keys/{name}/rotate` gives `keys-name-rotate`).
fn operation_id(prefix: &str, op: Operation, template: &str) -> String {
    let verb = match op {
        Operation::Update => "write",
        other => other.as_wire(),
    };
    let suffix = words(template).join("-");
    [prefix, verb, &suffix]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase()
}

fn words(s: &str) -> Vec<&str> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect()
}

/// `write-keys-name` gives `WriteKeysName`.
fn title_case(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// Trims and collapses whitespace runs, as Go's `cleanString`.
fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn insert_nonempty(map: &mut Map<String, Value>, key: &str, value: String) {
    if !value.is_empty() {
        map.insert(key.into(), Value::from(value));
    }
}

#[cfg(test)]
mod tests;
