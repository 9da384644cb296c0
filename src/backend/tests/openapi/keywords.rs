//! The document uses only OpenAPI 3.0's schema keywords.

use super::*;

/// The document uses only OpenAPI 3.0's schema keywords (and `x-` extensions): no JSON Schema
/// keyword 3.0 lacks, so validators and schemathesis read it as the 3.0.2 it declares.
#[tokio::test]
async fn schemas_use_only_openapi_3_0_keywords() {
    const KEYWORDS: &[&str] = &[
        "title",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxProperties",
        "minProperties",
        "required",
        "enum",
        "type",
        "allOf",
        "oneOf",
        "anyOf",
        "not",
        "items",
        "properties",
        "additionalProperties",
        "description",
        "format",
        "default",
        "nullable",
        "discriminator",
        "readOnly",
        "writeOnly",
        "xml",
        "externalDocs",
        "example",
        "deprecated",
        "$ref",
    ];
    fn walk(schema: &Map<String, Value>, at: &str, problems: &mut Vec<String>) {
        for (k, v) in schema {
            if !(KEYWORDS.contains(&k.as_str()) || k.starts_with("x-")) {
                problems.push(format!("{at}: {k}"));
            }
            match (k.as_str(), v) {
                ("properties", Value::Object(props)) => {
                    for (name, p) in props {
                        if let Value::Object(p) = p {
                            walk(p, &format!("{at}.{name}"), problems);
                        }
                    }
                }
                ("items" | "additionalProperties", Value::Object(s)) => walk(s, at, problems),
                _ => {}
            }
        }
    }
    let doc = Harness::new().await.openapi().await;
    let mut problems = Vec::new();
    for (name, s) in doc["components"]["schemas"].as_object().expect("schemas") {
        walk(s.as_object().expect("schema"), name, &mut problems);
    }
    for (template, _, name, s, _) in &fields(&doc).0 {
        walk(
            s.as_object().expect("schema"),
            &format!("{template} {name}"),
            &mut problems,
        );
    }
    assert!(
        problems.is_empty(),
        "not OpenAPI 3.0 keywords: {problems:?}"
    );
}
