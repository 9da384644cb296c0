//! The engine's whole OpenAPI document (the mount's root help) states the constraints the engine
//! enforces: every field has a type, every integer and duration its bounds, every text its
//! length, every map its limits; the bounds the handlers check are the document's; the patterns
//! the document shows accept what the engine's own checks accept; and a value outside them is a
//! 400 naming the field before any handler runs.

use serde_json::{json, Map, Value};

use crate::backend::record::{history_cursor, parse_history_cursor};
use crate::backend::testing::{expect_bad_request, Harness};
use crate::framework::Operation;
use crate::providers::{ProviderConfig, ProviderType};
use crate::rotation::validate_key_value;

/// 100 years in seconds: the framework's bound on every duration.
const CENTURY: i64 = 36_525 * 86_400;

/// Every field of every operation: (path template, where, field name, schema), where is
/// `path`, `query` or `body`; `required` says whether the document requires it.
struct Fields(Vec<(String, &'static str, String, Value, bool)>);

fn fields(doc: &Value) -> Fields {
    let mut out = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        let mut params: Vec<&Value> = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        for method in ["get", "post", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            params.extend(op["parameters"].as_array().into_iter().flatten());
            for content in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let schema = &content.1["schema"];
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for (name, s) in schema["properties"].as_object().into_iter().flatten() {
                    let req = required.contains(&name.as_str());
                    out.push((template.clone(), "body", name.clone(), s.clone(), req));
                }
            }
        }
        for p in params {
            let place = if p["in"] == "path" { "path" } else { "query" };
            let name = p["name"].as_str().expect("parameter name").to_owned();
            let req = p["required"] == true;
            out.push((template.clone(), place, name, p["schema"].clone(), req));
        }
    }
    Fields(out)
}

impl Fields {
    /// The schema of `name` on `template` (every occurrence must agree).
    fn schema(&self, template: &str, name: &str) -> &Value {
        let found: Vec<&Value> = self
            .0
            .iter()
            .filter(|(t, _, n, _, _)| t == template && n == name)
            .map(|(_, _, _, s, _)| s)
            .collect();
        assert!(!found.is_empty(), "{template} has no field {name}");
        assert!(
            found.windows(2).all(|w| w[0] == w[1]),
            "{template} {name}: {found:?}"
        );
        found[0]
    }
}

#[tokio::test]
async fn every_field_states_its_type_and_bounds() {
    let doc = Harness::new().await.openapi().await;
    assert_eq!(doc["openapi"], "3.0.2");
    let all = fields(&doc);
    assert!(all.0.len() > 60, "too few fields: {}", all.0.len());
    let mut problems = Vec::new();
    for (template, place, name, s, _) in &all.0 {
        let at = format!("{template} {place} {name}: {s}");
        match s["type"].as_str() {
            Some("integer") => {
                if !(s["minimum"].is_i64() && s["maximum"].is_i64()) {
                    problems.push(format!("integer without minimum and maximum: {at}"));
                }
                if s["format"] == "seconds"
                    && !(s["minimum"].as_i64() >= Some(0) && s["maximum"].as_i64() <= Some(CENTURY))
                {
                    problems.push(format!("duration beyond 0..100 years: {at}"));
                }
            }
            Some("string") => {
                // The `list` flags are enums, times have their format; every other text is
                // bounded.
                let bounded = s["maxLength"].is_u64()
                    || s["pattern"].is_string()
                    || s["enum"].is_array()
                    || s["format"] == "date-time";
                if !bounded {
                    problems.push(format!("text without maxLength, pattern or enum: {at}"));
                }
            }
            Some("object") => {
                if s["maxProperties"] != 64 || s["additionalProperties"]["maxLength"] != 512 {
                    problems.push(format!("map without its limits: {at}"));
                }
                if s["x-propertyNames"]["maxLength"] != 128 {
                    problems.push(format!("map without its key limit: {at}"));
                }
            }
            Some("boolean") => {}
            // String lists (`FieldType::StringList`): as many items as a list may hold, each
            // bounded.
            Some("array") => {
                if !(s["maxItems"].is_u64()
                    && s["items"]["type"] == "string"
                    && s["items"]["maxLength"].is_u64())
                {
                    problems.push(format!("list without maxItems or item bounds: {at}"));
                }
            }
            _ => problems.push(format!("no type: {at}")),
        }
        if let Some(default) = s.get("default") {
            let fits = match s["type"].as_str() {
                Some("integer") => default.is_i64(),
                Some("string") => default.is_string(),
                Some("boolean") => default.is_boolean(),
                _ => true,
            };
            if !fits {
                problems.push(format!("default not of the field's type: {at}"));
            }
        }
        if let Some(allowed) = s["enum"].as_array() {
            if s.get("default").is_some_and(|d| !allowed.contains(d)) {
                problems.push(format!("default outside the enum: {at}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The bounds each handler checks (history's limit, config's history_limit, provider timeouts,
/// ...) are the document's, which the framework enforces first.
#[tokio::test]
async fn the_bounds_handlers_check_are_in_the_document() {
    let doc = Harness::new().await.openapi().await;
    let all = fields(&doc);
    let bounded: &[(&str, &str, i64, i64)] = &[
        ("/config", "history_limit", 1, 100_000),
        ("/history/{name}", "limit", 1, 1000),
        ("/test/{name}", "version", 1, i64::from(u32::MAX)),
        ("/acknowledge/{name}", "version", 1, i64::from(u32::MAX)),
        ("/providers/{name}", "timeout", 1, 300),
        ("/overdue", "max_age", 1, CENTURY),
        ("/report", "window", 1, CENTURY),
        ("/extend/{name}", "grace_period", 1, CENTURY),
        ("/schedules/{name}", "rotation_period", 0, CENTURY),
        ("/keys/{name}", "rotation_window", 0, CENTURY),
        ("/promote/{name}", "grace_period", 0, CENTURY),
    ];
    for (template, name, min, max) in bounded {
        let s = all.schema(template, name);
        assert_eq!(
            (s["minimum"].as_i64(), s["maximum"].as_i64()),
            (Some(*min), Some(*max)),
            "{template} {name}: {s}"
        );
    }
    let defaults: &[(&str, &str, Value)] = &[
        ("/config", "history_limit", json!(1000)),
        ("/history/{name}", "limit", json!(100)),
        ("/report", "window", json!(365 * 86_400)),
        ("/report", "format", json!("json")),
        ("/metrics", "format", json!("json")),
        ("/promote/{name}", "force", json!(false)),
    ];
    for (template, name, default) in defaults {
        assert_eq!(
            &all.schema(template, name)["default"],
            default,
            "{template} {name}"
        );
    }
    let types: Vec<&str> = ProviderType::ALL.iter().map(|t| t.as_str()).collect();
    let enums: &[(&str, &str, Value)] = &[
        ("/providers/{name}", "type", json!(types)),
        ("/metrics", "format", json!(["json", "prometheus", ""])),
        ("/report", "format", json!(["json", "csv", ""])),
    ];
    for (template, name, allowed) in enums {
        assert_eq!(
            &all.schema(template, name)["enum"],
            allowed,
            "{template} {name}"
        );
    }
    let lengths: &[(&str, &str, u64)] = &[
        ("/keys/{name}", "value", 4096),
        ("/keys/{name}", "provider_key_id", 256),
        ("/stage/{name}", "rotation_id", 128),
        ("/providers/{name}", "base_url", 2048),
        ("/providers/{name}", "admin_key", 4096),
        ("/providers/{name}", "project_id", 128),
        ("/providers/{name}", "api_version", 40),
        ("/providers/{name}", "verify_path", 512),
        ("/extend/{name}", "reason", 256),
        ("/acknowledge/{name}", "reason", 256),
        ("/schedules/{name}", "rotation_schedule", 256),
        ("/history/{name}", "after", 21),
        ("/exposed", "value", 4096),
        ("/exposed", "fingerprint", 71),
        ("/exposed", "source", 256),
        ("/exposed", "reason", 1024),
    ];
    for (template, name, max) in lengths {
        assert_eq!(
            all.schema(template, name)["maxLength"],
            *max,
            "{template} {name}"
        );
    }
    for template in ["/keys/{name}", "/stage/{name}", "/rotate/{name}"] {
        assert_eq!(all.schema(template, "value")["minLength"], 1, "{template}");
    }
    // Required: path parameters, verify/'s value, acknowledge/'s version, and exposed's source
    // and reason.
    for (template, place, name, _, required) in &all.0 {
        let expected = *place == "path"
            || (template == "/verify/{name}" && name == "value")
            || (template == "/exposed" && (name == "source" || name == "reason"))
            || (template == "/acknowledge/{name}" && name == "version");
        if *place != "query" || name != "list" {
            assert_eq!(*required, expected, "{template} {place} {name}");
        }
    }
}

/// A value outside the document's bounds is a 400 naming the field (and the bound), before the
/// handler; the bound itself is accepted.
#[tokio::test]
async fn values_outside_the_document_are_refused_first() {
    let h = Harness::new().await;
    h.create_key("k", "sk-test-CURRENT-000000000").await;
    let refused: &[(Operation, &str, Value, &str, &str)] = &[
        (
            Operation::Update,
            "config",
            json!({"history_limit": 100_001}),
            "history_limit",
            "between 1 and 100000",
        ),
        (
            Operation::Read,
            "history/k",
            json!({"limit": 1001}),
            "limit",
            "between 1 and 1000",
        ),
        (
            Operation::Read,
            "history/k",
            json!({"after": "e+5"}),
            "after",
            "next_after",
        ),
        (
            Operation::Update,
            "test/k",
            json!({"version": 0}),
            "version",
            "between 1 and 4294967295",
        ),
        (
            Operation::Read,
            "overdue",
            json!({"max_age": "0s"}),
            "max_age",
            "greater than zero",
        ),
        (
            Operation::Read,
            "report",
            json!({"window": 0}),
            "window",
            "greater than zero",
        ),
        (
            Operation::Read,
            "report",
            json!({"format": "xml"}),
            "format",
            "one of json, csv",
        ),
        (
            Operation::Read,
            "metrics",
            json!({"format": "xml"}),
            "format",
            "one of json, prometheus",
        ),
        (
            Operation::Update,
            "extend/k",
            json!({"grace_period": 0}),
            "grace_period",
            "greater than zero",
        ),
        (
            Operation::Update,
            "verify/k",
            json!({}),
            "value",
            "is required",
        ),
        (
            Operation::Update,
            "stage/k",
            json!({"value": ""}),
            "value",
            "must not be empty",
        ),
        (
            Operation::Update,
            "rotate/k",
            json!({"value": "sk-a\u{85}b"}),
            "value",
            "control characters",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "openai", "timeout": "301s"}),
            "timeout",
            "between 1s and 300s",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "OpenAI"}),
            "type",
            "must be one of openai",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "openai", "project_id": "proj/x"}),
            "project_id",
            "letters, digits",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "azure_openai", "api_version": "2024&x=1"}),
            "api_version",
            "2024-10-21",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "openai_compatible", "verify_path": "/a/../b"}),
            "verify_path",
            "'..'",
        ),
        (
            Operation::Create,
            "providers/p",
            json!({"type": "openai", "admin_key": "sk-admin\tx"}),
            "admin_key",
            "control characters",
        ),
    ];
    let before = h.snapshot().await;
    for (op, path, body, field, bound) in refused {
        let msg = expect_bad_request(h.call(*op, path, body.clone()).await);
        assert!(
            msg.starts_with(&format!("Field validation failed: field \"{field}\": "))
                && msg.contains(bound),
            "{op} {path} {body}: {msg}"
        );
        assert_eq!(
            h.snapshot().await,
            before,
            "{op} {path} {body} changed storage"
        );
    }
    // The bounds themselves pass the framework.
    h.write("config", json!({"history_limit": 100_000}))
        .await
        .unwrap();
    h.call(Operation::Read, "history/k", json!({"limit": 1000}))
        .await
        .unwrap();
    h.call(
        Operation::Read,
        "report",
        json!({"window": 1, "format": ""}),
    )
    .await
    .unwrap();
    h.call(Operation::Read, "metrics", json!({"format": ""}))
        .await
        .unwrap();
    h.create(
        "providers/p",
        json!({"type": "openai", "timeout": 300, "project_id": "proj_abc", "api_version": ""}),
    )
    .await
    .unwrap();
}

/// Whether `ProviderConfig::validate` accepts provider setting `name` set to `v`.
fn setting_accepted(name: &str, v: &str) -> bool {
    let mut c = ProviderConfig::new(ProviderType::Openai);
    let setting = match name {
        "project_id" => &mut c.project_id,
        "api_version" => &mut c.api_version,
        "verify_path" => &mut c.verify_path,
        other => panic!("no setting {other}"),
    };
    *setting = Some(v.to_owned());
    c.validate().is_ok()
}

fn pattern(doc: &Value, template: &str, name: &str) -> regex::Regex {
    let all = fields(doc);
    let source = all.schema(template, name)["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{template} {name} has no pattern"));
    regex::Regex::new(source).unwrap_or_else(|e| panic!("{template} {name}: {e}"))
}

/// Each pattern the document shows for a provider setting, a key value, an admin key or a
/// history cursor accepts exactly what the engine's own check (`ProviderConfig::validate`,
/// `validate_key_value`, the cursor parser) accepts, on a non-empty value (the empty string
/// removes a setting).
#[tokio::test]
async fn patterns_accept_what_the_checks_accept() {
    let doc = Harness::new().await.openapi().await;
    let setting_cases: &[(&str, &[&str], usize)] = &[
        (
            "project_id",
            &[
                "proj_abc123",
                "a",
                ".",
                "-",
                "a.b-c_d",
                "a b",
                "a/b",
                "é",
                "p?x",
                " p",
                "",
            ],
            128,
        ),
        (
            "api_version",
            &[
                "2024-10-21",
                "2025-04-01-preview",
                "v1.0",
                "2024&x=1",
                "a_b",
                "é",
                " 1",
                "",
            ],
            40,
        ),
        (
            "verify_path",
            &[
                "/v1/models",
                "/health",
                "health",
                "/",
                "//",
                "/.",
                "/a.",
                "/a.b",
                "/./x",
                "/.well-known/x",
                "/..",
                "/a..",
                "/a..b",
                "/../x",
                "/a?b",
                "/a#b",
                "/a b",
                "/a\tb",
                "/ä",
                "/x\"y",
                "/~$%&'()*+,-;<=>@[]^_`{|}\\",
                "",
            ],
            512,
        ),
    ];
    for (name, samples, max) in setting_cases {
        let re = pattern(&doc, "/providers/{name}", name);
        let long_ok = "a".repeat(*max);
        let long_bad = "a".repeat(*max + 1);
        let mut all: Vec<String> = samples.iter().map(|s| (*s).to_owned()).collect();
        if *name == "verify_path" {
            all.push(format!("/{}", &long_ok[1..]));
            all.push(format!("/{}", &long_bad[1..]));
        } else {
            all.push(long_ok);
            all.push(long_bad);
        }
        for v in all.iter().filter(|v| !v.is_empty()) {
            let documented = re.is_match(v) && v.len() <= *max;
            assert_eq!(documented, setting_accepted(name, v), "{name} {v:?}");
        }
        assert!(re.is_match(""), "{name}: the empty string removes it");
    }

    let values = [
        "sk-abc",
        "a\nb",
        "a\tb",
        "a\rb",
        "\u{0}",
        "a\u{7f}b",
        "a\u{80}b",
        "a\u{85}b",
        "a\u{9f}b",
        "a\u{a0}b",
        "é",
        "a\u{200b}b",
        "a b",
        "🔑",
    ];
    for (template, name) in [
        ("/keys/{name}", "value"),
        ("/stage/{name}", "value"),
        ("/rotate/{name}", "value"),
        ("/providers/{name}", "admin_key"),
    ] {
        let re = pattern(&doc, template, name);
        for v in values {
            assert_eq!(
                re.is_match(v),
                validate_key_value(v).is_ok(),
                "{template} {name} {v:?}"
            );
        }
    }

    // Cursors: every one history/ returns matches; what matches parses, up to u64's range.
    let re = pattern(&doc, "/history/{name}", "after");
    for n in [0, 1, 42, u64::MAX] {
        assert!(re.is_match(&history_cursor(n)), "{n}");
    }
    for v in [
        "e0",
        "e42",
        "e18446744073709551615",
        "e",
        "42",
        "e-1",
        "ex",
        "E5",
        "e 5",
        "e+5",
    ] {
        if re.is_match(v) {
            assert!(parse_history_cursor(v).is_some(), "{v:?}");
        }
    }
}

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
