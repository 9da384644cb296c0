use std::sync::Arc;

use serde_json::{json, Value};

use crate::framework::*;

async fn nothing(_: Request, _: FieldData) -> HandlerResult {
    Ok(None)
}

fn backend() -> Backend {
    let h = || handler(nothing);
    Backend::new("help")
        .path(
            Path::new(&format!("keys/{}", generic_name_regex("name")))
                .field(Field::new("name", FieldType::Name, "Name of the key."))
                .field(
                    Field::new("ttl", FieldType::Duration, "  Lifetime,\n   in seconds. ")
                        .default(json!("1h")),
                )
                .field(
                    Field::new("api_key", FieldType::String, "The key.")
                        .sensitive()
                        .required(),
                )
                .field(Field::new("labels", FieldType::Map, "Labels."))
                .field(Field::new("scopes", FieldType::StringList, "Scopes."))
                .field(Field::new("not_after", FieldType::Time, "Expiry."))
                .field(Field::new("enabled", FieldType::Bool, "Enabled."))
                .field(Field::new("limit", FieldType::Int, "Limit.").query())
                .operation(Operation::Read, "Read a key.", h())
                .operation(Operation::Create, "Create a key.", h())
                .operation(Operation::Update, "Update a key.", h())
                .operation(Operation::Patch, "Patch a key.", h())
                .operation(Operation::Delete, "Delete a key.", h())
                .help("Manage   one key.", ""),
        )
        .path(Path::new("keys/?").operation(Operation::List, "List keys.", h()))
        .path(
            Path::new("both/?")
                .operation(Operation::Read, "Read.", h())
                .operation(Operation::List, "List.", h()),
        )
        .path(
            Path::new(".*")
                .operation(Operation::Read, "Catch all.", h())
                .help("Anything.", ""),
        )
}

#[test]
fn document_skeleton() {
    let doc = backend().openapi("v9.9.9");
    assert_eq!(doc["openapi"], "3.0.2");
    assert_eq!(
        doc["info"],
        json!({
            "title": "OpenBao API",
            "description": "HTTP API that gives you full access to OpenBao. All API routes are prefixed with `/v1/`.",
            "version": "v9.9.9",
            "license": {"name": "Mozilla Public License 2.0", "url": "https://www.mozilla.org/en-US/MPL/2.0"},
        })
    );
    let mut paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    paths.sort();
    assert_eq!(paths, ["/.*", "/both/", "/keys/", "/keys/{name}"]);
    assert_eq!(doc["paths"]["/.*"], json!({"description": "Anything."}));
}

#[test]
fn path_item_with_parameters_body_and_operations() {
    let doc = backend().openapi("");
    let item = &doc["paths"]["/keys/{name}"];
    assert_eq!(item["description"], "Manage one key.");
    assert_eq!(item["x-vault-createSupported"], true);
    assert_eq!(
        item["parameters"],
        json!([
            {"name": "limit", "description": "Limit.", "in": "query", "required": false,
             "schema": {"type": "integer", "format": "int64"}},
            {"name": "name", "description": "Name of the key.", "in": "path", "required": true,
             "schema": {"type": "string", "pattern": "^[A-Za-z0-9]([A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?$"}},
        ])
    );
    let get = &item["get"];
    assert_eq!(get["operationId"], "read-keys-name");
    assert_eq!(get["summary"], "Read a key.");
    assert_eq!(get["tags"], json!(["secrets"]));
    assert_eq!(get["responses"], json!({"200": {"description": "OK"}}));
    assert!(get.get("requestBody").is_none());

    let post = &item["post"];
    assert_eq!(
        post["summary"], "Update a key.",
        "update documents the write"
    );
    assert_eq!(post["operationId"], "write-keys-name");
    // Inlined (the host drops `$ref` when merging plugin documents), and named in components.
    assert_eq!(post["requestBody"]["required"], true);
    assert_eq!(
        post["requestBody"]["content"]["application/json"]["schema"],
        doc["components"]["schemas"]["WriteKeysNameRequest"]
    );
    assert_eq!(
        item["patch"]["requestBody"]["content"]["application/merge-patch+json"]["schema"],
        doc["components"]["schemas"]["PatchKeysNameRequest"]
    );
    assert_eq!(item["delete"]["operationId"], "delete-keys-name");
    assert_eq!(
        item["delete"]["responses"],
        json!({"204": {"description": "empty body"}})
    );

    let schema = &doc["components"]["schemas"]["WriteKeysNameRequest"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["api_key"]));
    let props = schema["properties"].as_object().unwrap();
    let mut names: Vec<&String> = props.keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["api_key", "enabled", "labels", "not_after", "scopes", "ttl"]
    );
    // A duration shows its default in seconds (the schema's type) and the framework's bounds.
    assert_eq!(
        props["ttl"],
        json!({"type": "integer", "format": "seconds", "description": "Lifetime, in seconds.",
               "default": 3600, "minimum": 0, "maximum": 3_155_760_000i64})
    );
    assert_eq!(
        props["api_key"],
        json!({"type": "string", "description": "The key.", "x-vault-displayAttrs": {"sensitive": true}, "maxLength": 1024})
    );
    assert_eq!(props["labels"]["type"], "object");
    assert_eq!(
        props["labels"]["additionalProperties"],
        json!({"type": "string", "maxLength": 512})
    );
    assert_eq!(props["labels"]["maxProperties"], 64);
    assert_eq!(
        props["labels"]["x-propertyNames"],
        json!({"maxLength": 128})
    );
    assert_eq!(
        props["scopes"]["items"],
        json!({"type": "string", "maxLength": 1024})
    );
    assert_eq!(props["scopes"]["maxItems"], 64);
    assert_eq!(props["not_after"]["format"], "date-time");
    assert_eq!(props["enabled"]["type"], "boolean");
}

#[test]
fn list_routes() {
    let doc = backend().openapi("");
    let get = &doc["paths"]["/keys/"]["get"];
    assert_eq!(get["operationId"], "list-keys");
    assert_eq!(
        get["parameters"],
        json!([{"name": "list", "description": "Must be set to `true`", "in": "query",
                "required": true, "schema": {"type": "string", "enum": ["true"]}}])
    );
    assert!(doc["paths"].get("/keys").is_none());

    let both = &doc["paths"]["/both/"]["get"];
    assert_eq!(both["operationId"], "read-both");
    assert_eq!(both["parameters"][0]["name"], "list");
    assert_eq!(both["parameters"][0]["required"], false);
}

#[tokio::test]
async fn help_uses_request_response_prefix() {
    let b = backend().version("v0.1.0");
    let s = Arc::new(InMemoryStorage::new());
    let r =
        Request::new(Operation::Help, "", s).with_data(json!({"requestResponsePrefix": "ai-keys"}));
    let resp = b.handle_request(r).await.unwrap().unwrap();
    let doc: &Value = &resp.data["openapi"];
    assert_eq!(doc["info"]["version"], "v0.1.0");
    assert_eq!(
        doc["paths"]["/keys/{name}"]["post"]["operationId"],
        "ai-keys-write-keys-name"
    );
    assert!(doc["components"]["schemas"]
        .get("AiKeysWriteKeysNameRequest")
        .is_some());
}

/// Every declared constraint shows in the schema, from the same declaration the framework
/// enforces.
#[test]
fn constraints_show_in_the_schema() {
    let doc = Backend::new("")
        .path(
            Path::new("settings")
                .field(
                    Field::new("limit", FieldType::Int, "Limit.")
                        .min(1)
                        .max(1000)
                        .default(json!("100")),
                )
                .field(
                    Field::new("timeout", FieldType::Duration, "Timeout.")
                        .min(1)
                        .max(300),
                )
                .field(Field::new("age", FieldType::Duration, "Age.").min(1))
                .field(Field::new("format", FieldType::String, "Format.").allowed(&["json", "csv"]))
                .field(
                    Field::new("digits", FieldType::String, "Digits.")
                        .pattern("^[0-9]*$", "must use only digits")
                        .min_len(1)
                        .max_len(8),
                )
                .field(Field::new("id", FieldType::String, "Id.").id_alphabet())
                .field(Field::new("value", FieldType::String, "Value.").required())
                .field(
                    Field::new("window", FieldType::Duration, "Window.")
                        .min(60)
                        .query(),
                )
                .operation(Operation::Update, "Write.", handler(nothing))
                .operation(Operation::Read, "Read.", handler(nothing)),
        )
        .openapi("");
    let schema = &doc["components"]["schemas"]["WriteSettingsRequest"];
    let props = &schema["properties"];
    assert_eq!(schema["required"], json!(["value"]));
    assert_eq!(
        props["limit"],
        json!({"type": "integer", "format": "int64", "description": "Limit.",
               "default": 100, "minimum": 1, "maximum": 1000})
    );
    assert_eq!(props["timeout"]["minimum"], 1);
    assert_eq!(props["timeout"]["maximum"], 300);
    assert_eq!(props["timeout"]["format"], "seconds");
    assert_eq!(props["age"]["minimum"], 1);
    assert_eq!(props["age"]["maximum"], 3_155_760_000i64);
    assert_eq!(props["format"]["enum"], json!(["json", "csv"]));
    assert_eq!(props["format"]["maxLength"], 1024);
    assert_eq!(
        props["digits"],
        json!({"type": "string", "description": "Digits.", "maxLength": 8, "minLength": 1,
               "pattern": "^[0-9]*$"})
    );
    assert_eq!(
        props["id"]["pattern"],
        "^([A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*)?$"
    );
    let window = &doc["paths"]["/settings"]["parameters"][0];
    assert_eq!(window["name"], "window");
    assert_eq!(window["in"], "query");
    assert_eq!(
        window["schema"],
        json!({"type": "integer", "format": "seconds", "minimum": 60, "maximum": 3_155_760_000i64})
    );
}
