//! `path-help` and the OpenAPI document describe every path and field.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::cli_ok;
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// path-help and OpenAPI
// ---------------------------------------------------------------------------------------------

/// The PARAMETERS section of `bao path-help`: field name -> description.
fn help_parameters(text: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let Some(start) = text.find("## PARAMETERS") else {
        return fields;
    };
    let section = &text[start + "## PARAMETERS".len()..];
    let section = &section[..section.find("## DESCRIPTION").unwrap_or(section.len())];
    let mut current: Option<String> = None;
    for line in section.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with("        ") {
            let name = current.as_ref().expect("description after a field");
            let entry: &mut String = fields.get_mut(name).unwrap();
            entry.push_str(line.trim());
            entry.push(' ');
        } else if let Some(header) = line.strip_prefix("    ") {
            let name = header.split(' ').next().unwrap().to_owned();
            assert!(
                header.contains('(') && header.ends_with(')'),
                "field header {header:?} has a type"
            );
            fields.insert(name.clone(), String::new());
            current = Some(name);
        } else {
            panic!("unexpected line in PARAMETERS: {line:?}\n{text}");
        }
    }
    fields
}

/// What the OpenAPI document must say about one path: (template, operations, path parameters,
/// body parameters of its POST).
type OpenApiPath = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// Every path of api.md except providers/, with the fields it must document.
const PATH_FIELDS: &[(&str, &[&str])] = &[
    (
        "keys/x",
        &[
            "name",
            "value",
            "created_time",
            "provider",
            "schedule",
            "rotation_period",
            "rotation_schedule",
            "rotation_window",
            "grace_period",
            "usage_quiet_period",
            "max_grace",
            "auto_rotate",
            "custom_metadata",
        ],
    ),
    ("creds/x", &["name"]),
    ("stage/x", &["name", "value", "rotation_id"]),
    ("test/x", &["name", "version"]),
    ("promote/x", &["name", "grace_period", "force"]),
    ("rollback/x", &["name"]),
    (
        "rotate/x",
        &["name", "value", "grace_period", "rotation_id"],
    ),
    ("verify/x", &["name", "value"]),
    ("history/x", &["name"]),
    ("overdue", &["max_age"]),
    ("metrics", &["format"]),
    (
        "schedules/x",
        &[
            "name",
            "rotation_period",
            "rotation_schedule",
            "grace_period",
            "rotation_window",
            "usage_quiet_period",
            "max_grace",
            "notice_before",
        ],
    ),
    (
        "config",
        &[
            "default_schedule",
            "require_separate_approver",
            "history_limit",
        ],
    ),
];

#[tokio::test]
async fn path_help_and_openapi_document_every_path() {
    let bao = Bao::start().await;
    for (path, expected) in PATH_FIELDS {
        let text = cli_ok(&bao, &["path-help", &format!("ai-keys/{path}")]);
        let mut lines = text.lines();
        let request = lines.next().unwrap_or_default();
        assert_eq!(
            request.split_whitespace().collect::<Vec<_>>(),
            ["Request:", path],
            "{text}"
        );
        assert!(
            lines
                .next()
                .unwrap_or_default()
                .starts_with("Matching Route: ^"),
            "{text}"
        );
        let synopsis = text.lines().nth(3).unwrap_or_default();
        assert!(
            !synopsis.trim().is_empty(),
            "a synopsis for {path}:\n{text}"
        );
        let description = text
            .split("## DESCRIPTION")
            .nth(1)
            .unwrap_or_else(|| panic!("no DESCRIPTION for {path}:\n{text}"));
        assert!(description.trim().len() > 20, "{path}:\n{text}");

        let documented = help_parameters(&text);
        for field in *expected {
            let help = documented
                .get(*field)
                .unwrap_or_else(|| panic!("path-help {path} does not document {field}:\n{text}"));
            assert!(help.trim().len() > 5, "{path} {field}: {help:?}");
        }
        for (field, help) in &documented {
            assert!(!help.trim().is_empty(), "{path} {field} has no description");
        }
    }

    let spec = read_openapi(&bao).await;
    let expected: &[OpenApiPath] = &[
        (
            "/ai-keys/keys/{name}",
            &["get", "post", "delete"],
            &["name"],
            &[
                "value",
                "created_time",
                "provider",
                "schedule",
                "rotation_period",
                "rotation_schedule",
                "rotation_window",
                "grace_period",
                "usage_quiet_period",
                "max_grace",
                "auto_rotate",
                "custom_metadata",
            ],
        ),
        ("/ai-keys/keys/", &["get"], &[], &[]),
        ("/ai-keys/creds/{name}", &["get"], &["name"], &[]),
        (
            "/ai-keys/stage/{name}",
            &["post"],
            &["name"],
            &["value", "rotation_id"],
        ),
        ("/ai-keys/test/{name}", &["post"], &["name"], &["version"]),
        (
            "/ai-keys/promote/{name}",
            &["post"],
            &["name"],
            &["grace_period", "force"],
        ),
        ("/ai-keys/rollback/{name}", &["post"], &["name"], &[]),
        (
            "/ai-keys/rotate/{name}",
            &["post"],
            &["name"],
            &["value", "grace_period", "rotation_id"],
        ),
        ("/ai-keys/verify/{name}", &["post"], &["name"], &["value"]),
        ("/ai-keys/history/{name}", &["get"], &["name"], &[]),
        ("/ai-keys/overdue", &["get"], &[], &[]),
        ("/ai-keys/metrics", &["get"], &[], &[]),
        (
            "/ai-keys/schedules/{name}",
            &["get", "post", "delete"],
            &["name"],
            &[
                "rotation_period",
                "rotation_schedule",
                "grace_period",
                "rotation_window",
                "usage_quiet_period",
                "max_grace",
            ],
        ),
        ("/ai-keys/schedules/", &["get"], &[], &[]),
        (
            "/ai-keys/config",
            &["get", "post"],
            &[],
            &[
                "default_schedule",
                "require_separate_approver",
                "history_limit",
            ],
        ),
    ];
    for (template, ops, path_params, body_params) in expected {
        let item = &spec["paths"][*template];
        assert!(
            item.is_object(),
            "{template} missing from the OpenAPI document"
        );
        for op in *ops {
            assert!(item[*op].is_object(), "{template} has no {op}: {item:#}");
        }
        let params: BTreeSet<&str> = item["parameters"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|p| p["in"] == "path" && p["required"] == true)
                    .filter_map(|p| p["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            params,
            path_params.iter().copied().collect(),
            "{template}: {item:#}"
        );
        if !body_params.is_empty() {
            let properties = request_properties(&spec, &item["post"]);
            for field in *body_params {
                let property = &properties[*field];
                assert!(
                    property.is_object(),
                    "{template} POST does not document {field}: {properties:#}"
                );
                assert!(
                    property["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{template} {field}: {property:#}"
                );
            }
        }
    }
    let list = &spec["paths"]["/ai-keys/keys/"]["get"]["parameters"];
    assert!(
        list.as_array()
            .is_some_and(|a| a.iter().any(|p| p["name"] == "list" && p["in"] == "query")),
        "keys/ is documented as a LIST: {list:#}"
    );
}

async fn read_openapi(bao: &Bao) -> Value {
    let reply = bao.client().read("sys/internal/specs/openapi").await;
    reply.expect_status(200);
    reply.body.clone()
}

/// The properties of an operation's JSON request body, following a `$ref` to components.
fn request_properties(spec: &Value, operation: &Value) -> Value {
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
            spec["components"]["schemas"][name]["properties"].clone()
        }
        None => schema["properties"].clone(),
    }
}

/// `overdue`'s `max_age` is a query parameter of its GET; OpenAPI should say so (Go's framework
/// does for fields marked `Query`), or generated clients cannot send it.
#[tokio::test]
async fn openapi_documents_the_overdue_max_age_query_parameter() {
    let bao = Bao::start().await;
    let spec = read_openapi(&bao).await;
    let item = &spec["paths"]["/ai-keys/overdue"];
    let params: Vec<&Value> = item["parameters"]
        .as_array()
        .into_iter()
        .chain(item["get"]["parameters"].as_array())
        .flatten()
        .collect();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "max_age" && p["in"] == "query"),
        "{item:#}"
    );
}
