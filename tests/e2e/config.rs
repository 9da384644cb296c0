//! `config`, the mount's settings: `path-help` and the OpenAPI document describe it, and bad
//! requests get the right status and leave it alone. How it survives a plugin reload and a crash
//! is in `plugin_host::lifetime`.

use regex::Regex;
use serde_json::{json, Value};

use crate::plugin_host::cli_ok;
use crate::support::{Bao, Client};

pub(crate) const CONFIG: &str = "ai-keys/config";

/// The documented defaults of `config` (api.md).
pub(crate) fn default_config() -> Value {
    json!({
        "default_schedule": "production",
        "require_separate_approver": false,
        "history_limit": 1000,
        "max_grace_period": 30 * 86_400,
        "issuer": "",
        "signing_key_rotation_period": 30 * 86_400,
        "signing_key_prepublish": 86_400,
        "signing_key_grace": 86_400,
    })
}

/// `config` as read after a write of `settings`: with the issuer's defaults (docs/keyless.md).
pub(crate) fn with_issuer_defaults(mut settings: Value) -> Value {
    for (k, v) in default_config().as_object().unwrap() {
        if k == "issuer" || k.starts_with("signing_key_") {
            settings[k] = v.clone();
        }
    }
    settings
}

/// Reads `config` over HTTP and returns its data, asserting a 200.
pub(crate) async fn read_config(client: &Client) -> Value {
    let reply = client.read(CONFIG).await;
    reply.expect_status(200);
    reply.data().clone()
}

/// `path-help` documents `config` and lists it at the root; the merged OpenAPI document has
/// `/ai-keys/config` with a read and a write taking exactly its fields.
#[tokio::test]
async fn help_and_openapi_document_config() {
    let bao = Bao::start().await;

    let help = cli_ok(&bao, &["path-help", CONFIG]);
    assert!(help.contains("Request:        config"), "{help}");
    assert!(help.contains("## PARAMETERS"), "{help}");
    let lines: Vec<&str> = help.lines().map(str::trim).collect();
    let field_line = Regex::new(r"^[a-z_]+ \([a-z ]+\)$").unwrap();
    for (field, kind) in [
        ("default_schedule", "string)"),
        ("require_separate_approver", "(bool)"),
        ("history_limit", "(int)"),
    ] {
        let at = lines
            .iter()
            .position(|line| line.starts_with(&format!("{field} (")))
            .unwrap_or_else(|| panic!("{field} not documented in:\n{help}"));
        assert!(
            lines[at].ends_with(kind),
            "{field} is {kind}: {:?}",
            lines[at]
        );
        // The next non-empty line is its description, not the next field or section.
        let description = lines[at + 1..].iter().find(|l| !l.is_empty());
        assert!(
            description.is_some_and(|d| !field_line.is_match(d) && !d.starts_with('#')),
            "{field} has no description in:\n{help}"
        );
    }
    assert!(help.contains("## DESCRIPTION"), "{help}");

    let root = cli_ok(&bao, &["path-help", "ai-keys/"]);
    assert!(root.contains("## PATHS"), "{root}");
    let paths = &root[root.find("## PATHS").unwrap()..];
    assert!(paths.contains("^config$"), "config not listed:\n{root}");
    assert!(
        paths.contains("Configure the ai-keys secrets engine."),
        "{root}"
    );

    let spec = bao.client().read("sys/internal/specs/openapi").await;
    spec.expect_status(200);
    let item = &spec.body["paths"]["/ai-keys/config"];
    assert!(
        item.is_object(),
        "/ai-keys/config missing; ai-keys paths: {:?}",
        spec.body["paths"].as_object().map(|p| p
            .keys()
            .filter(|k| k.contains("ai-keys"))
            .collect::<Vec<_>>())
    );
    assert!(item["get"].is_object(), "read => get: {item:#}");
    assert!(item["delete"].is_null(), "no delete operation: {item:#}");
    let body = &item["post"]["requestBody"];
    assert!(body.is_object(), "post without requestBody: {item:#}");
    let mut schema = &body["content"]["application/json"]["schema"];
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        schema = &spec.body["components"]["schemas"][name];
    }
    let properties = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no properties in {schema:#}"));
    let mut names: Vec<&str> = properties.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "default_schedule",
            "history_limit",
            "issuer",
            "max_grace_period",
            "require_separate_approver",
            "signing_key_grace",
            "signing_key_prepublish",
            "signing_key_rotation_period"
        ]
    );
    assert_eq!(properties["default_schedule"]["type"], "string");
    assert_eq!(properties["history_limit"]["type"], "integer");
    assert_eq!(properties["require_separate_approver"]["type"], "boolean");
    for (name, property) in properties {
        assert!(
            property["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{name} has no description: {property}"
        );
    }
}

/// Unknown path 404, unsupported operation 405, bad values 400 naming the field; none of
/// them changes `config`.
#[tokio::test]
async fn errors_have_the_right_status_and_leave_config_alone() {
    let bao = Bao::start().await;
    let client = bao.client();
    let configured = with_issuer_defaults(json!({
        "default_schedule": "staging",
        "require_separate_approver": true,
        "history_limit": 500,
        "max_grace_period": 30 * 86_400,
    }));
    client
        .write(CONFIG, configured.clone())
        .await
        .expect_status(200);
    assert_eq!(read_config(&client).await, configured);

    let unknown = client.read("ai-keys/does-not-exist").await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    assert!(
        unknown.errors().contains("unsupported path"),
        "{}",
        unknown.text
    );
    assert_eq!(read_config(&client).await, configured);

    let delete = client.delete(CONFIG).await;
    assert_eq!(delete.status, 405, "{}", delete.text);
    assert!(
        delete.errors().contains("unsupported operation"),
        "{}",
        delete.text
    );
    assert_eq!(read_config(&client).await, configured);

    for (body, field) in [
        (json!({ "history_limit": "abc" }), "history_limit"),
        (json!({ "history_limit": 0 }), "history_limit"),
        (json!({ "history_limit": 100_001 }), "history_limit"),
        (
            json!({ "require_separate_approver": "maybe" }),
            "require_separate_approver",
        ),
        (
            json!({ "default_schedule": "bad name!" }),
            "default_schedule",
        ),
        // One bad field rejects the whole write: the good one is not applied either.
        (
            json!({ "default_schedule": "development", "history_limit": "abc" }),
            "history_limit",
        ),
    ] {
        let reply = client.write(CONFIG, body.clone()).await;
        assert_eq!(reply.status, 400, "POST {body}: {}", reply.text);
        assert!(
            reply.errors().contains(field),
            "POST {body}: the error does not name {field}: {}",
            reply.text
        );
        assert_eq!(read_config(&client).await, configured, "after POST {body}");
    }
}
