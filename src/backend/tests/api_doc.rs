//! docs/api.md's field tables, generated from the OpenAPI document the engine serves (the
//! mount's root help), and a check that fails when they drift from it.
//!
//! docs/api.md marks each path's table with `<!-- fields: keys/:name -->` ... `<!-- /fields -->`:
//! the path as the page writes it, `:name` standing for the document's `{name}` (`keys/:name` is
//! `/keys/{name}`, `schedules/` is `/schedules/`). Between the markers this test writes the path's
//! operations (ACL capability, HTTP request, summary) and one row per field or parameter (where
//! it goes, type, whether required, constraints, description). Every path of the document must
//! have its markers, and every marker a path. Nothing outside the markers is touched.
//!
//! To regenerate after changing a field, a description or a path:
//! `AI_KEYS_WRITE_API_DOCS=1 cargo test --lib api_doc`.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

use crate::backend::testing::Harness;

const OPEN: &str = "<!-- fields: ";
const OPEN_END: &str = " -->";
const CLOSE: &str = "<!-- /fields -->";
/// The mount the page's examples use.
const MOUNT: &str = "/v1/ai-keys";
const WRITE_VAR: &str = "AI_KEYS_WRITE_API_DOCS";
/// The pattern of a name field (the framework's `FieldType::Name`): the page's Conventions
/// section words it, so the tables link there instead of repeating it on every path.
const NAME_PATTERN: &str = "^[A-Za-z0-9]([A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?$";

fn api_md() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/api.md")
}

/// `keys/:name` -> `/keys/{name}`.
fn template_of(marker: &str) -> String {
    let parts: Vec<String> = marker
        .split('/')
        .map(|seg| match seg.strip_prefix(':') {
            Some(param) => format!("{{{param}}}"),
            None => seg.to_owned(),
        })
        .collect();
    format!("/{}", parts.join("/"))
}

/// Text for a Markdown table cell: `|` escaped, and what could start emphasis or HTML.
fn cell(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let alnum = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|c| c.is_alphanumeric())
        };
        match c {
            '|' | '*' | '<' | '`' | '\\' => {
                out.push('\\');
                out.push(*c);
            }
            // Inside a word (rotation_period) an underscore is plain text already.
            '_' if !(alnum(i.checked_sub(1)) && alnum(Some(i + 1))) => out.push_str("\\_"),
            _ => out.push(*c),
        }
    }
    out
}

/// Inline code for a table cell (`|` escaped, as tables need even inside code).
fn code(text: &str) -> String {
    let text = text.replace('|', "\\|");
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// Seconds as the page writes durations: `36525d`, `48h`, `90m`, `45s`.
fn duration(secs: i64) -> String {
    match secs {
        0 => "0".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn is_duration(s: &Value) -> bool {
    s["type"] == "integer" && s["format"] == "seconds"
}

fn type_of(s: &Value) -> &'static str {
    match (s["type"].as_str(), s["format"].as_str()) {
        (Some("integer"), Some("seconds")) => "duration",
        (Some("integer"), _) => "integer",
        (Some("string"), Some("date-time")) => "time",
        (Some("string"), _) => "string",
        (Some("boolean"), _) => "boolean",
        (Some("object"), _) => "map",
        (Some("array"), _) => "list",
        _ => "?",
    }
}

/// A scalar as the page shows it: durations as durations, text and numbers in code.
fn shown(s: &Value, v: &Value) -> String {
    match v {
        Value::Number(n) if is_duration(s) => duration(n.as_i64().unwrap_or_default()),
        Value::String(t) if t.is_empty() => code("\"\""),
        Value::String(t) => code(t),
        other => code(&other.to_string()),
    }
}

fn bytes(min: Option<u64>, max: Option<u64>) -> Option<String> {
    match (min, max) {
        (Some(lo), Some(hi)) => Some(format!("{lo} to {hi} bytes")),
        (Some(lo), None) => Some(format!("at least {lo} bytes")),
        (None, Some(hi)) => Some(format!("at most {hi} bytes")),
        (None, None) => None,
    }
}

/// The constraints of a schema: default, allowed values, range, lengths, pattern, map and list
/// limits, secrecy.
fn constraints(s: &Value) -> String {
    let mut out = Vec::new();
    if let Some(d) = s.get("default") {
        out.push(format!("default {}", shown(s, d)));
    }
    if let Some(allowed) = s["enum"].as_array() {
        let values: Vec<String> = allowed.iter().map(|v| shown(s, v)).collect();
        out.push(format!("one of {}", values.join(", ")));
    }
    let num = |v: &Value| {
        let n = v.as_i64().unwrap_or_default();
        if is_duration(s) {
            duration(n)
        } else {
            n.to_string()
        }
    };
    match (s.get("minimum"), s.get("maximum")) {
        (Some(lo), Some(hi)) => out.push(format!("{} to {}", num(lo), num(hi))),
        (Some(lo), None) => out.push(format!("at least {}", num(lo))),
        (None, Some(hi)) => out.push(format!("at most {}", num(hi))),
        (None, None) => {}
    }
    // Allowed values say more than a length.
    if !s["enum"].is_array() {
        if let Some(b) = bytes(s["minLength"].as_u64(), s["maxLength"].as_u64()) {
            out.push(b);
        }
    }
    match s["pattern"].as_str() {
        Some(NAME_PATTERN) => out.push("a [name](#conventions)".to_owned()),
        Some(p) => out.push(format!("pattern {}", code(p))),
        None => {}
    }
    if let Some(n) = s["maxProperties"].as_u64() {
        out.push(format!("at most {n} pairs"));
    }
    if let Some(n) = s["x-propertyNames"]["maxLength"].as_u64() {
        out.push(format!("keys at most {n} bytes"));
    }
    if let Some(n) = s["additionalProperties"]["maxLength"].as_u64() {
        out.push(format!("values at most {n} bytes"));
    }
    if let Some(n) = s["maxItems"].as_u64() {
        out.push(format!("at most {n} items"));
    }
    if let Some(b) = bytes(
        s["items"]["minLength"].as_u64(),
        s["items"]["maxLength"].as_u64(),
    ) {
        out.push(format!("items {b}"));
    }
    if s["x-vault-displayAttrs"]["sensitive"] == true {
        out.push("secret: write-only".to_owned());
    }
    out.join("; ")
}

/// The table of one path of the document.
fn render(template: &str, item: &Value) -> String {
    let mut out = String::new();
    out.push_str("| Operation | Request | Summary |\n|---|---|---|\n");
    for method in ["get", "post", "patch", "delete"] {
        let Some(op) = item.get(method) else { continue };
        let list = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "list" && p["required"] == true);
        let (capability, query) = match method {
            "get" if list => ("list", "?list=true"),
            "get" => ("read", ""),
            "post" if item["x-vault-createSupported"] == true => ("create, update", ""),
            "post" => ("update", ""),
            "patch" => ("patch", ""),
            _ => ("delete", ""),
        };
        let request = format!("{} {MOUNT}{template}{query}", method.to_uppercase());
        let summary = op["summary"].as_str().unwrap_or_default();
        let _ = writeln!(
            out,
            "| {capability} | {} | {} |",
            code(&request),
            cell(summary)
        );
    }

    // (name, where, schema, required, description)
    let mut rows: Vec<(String, &str, &Value, bool, String)> = Vec::new();
    for p in item["parameters"].as_array().into_iter().flatten() {
        let place = if p["in"] == "path" { "path" } else { "query" };
        let description = p["description"].as_str().unwrap_or_default().to_owned();
        let name = p["name"].as_str().unwrap_or_default().to_owned();
        rows.push((
            name,
            place,
            &p["schema"],
            p["required"] == true,
            description,
        ));
    }
    rows.sort_by_key(|r| (r.1 != "path", r.0.clone()));
    let body = ["post", "patch"]
        .iter()
        .find_map(|m| item.get(*m))
        .and_then(|op| op["requestBody"]["content"].as_object())
        .and_then(|content| content.values().next())
        .map(|media| &media["schema"]);
    if let Some(schema) = body {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (name, s) in schema["properties"].as_object().into_iter().flatten() {
            let description = s["description"].as_str().unwrap_or_default().to_owned();
            let req = required.contains(&name.as_str());
            rows.push((name.clone(), "body", s, req, description));
        }
    }
    if rows.is_empty() {
        out.push_str("\nNo fields.\n");
        return out;
    }
    out.push_str(
        "\n| Field | In | Type | Required | Constraints | Description |\n|---|---|---|---|---|---|\n",
    );
    for (name, place, s, required, description) in rows {
        let _ = writeln!(
            out,
            "| {} | {place} | {} | {} | {} | {} |",
            code(&name),
            type_of(s),
            if required { "yes" } else { "no" },
            constraints(s),
            cell(&description),
        );
    }
    out
}

/// docs/api.md with every marked block regenerated from `doc`; `Err` when the markers and the
/// document's paths do not match one to one, or a marker is not closed.
fn regenerate(page: &str, doc: &Value) -> Result<(String, Vec<String>), String> {
    let paths = doc["paths"]
        .as_object()
        .ok_or("the document has no paths")?;
    let mut out = String::new();
    let mut rest = page;
    let mut seen: Vec<String> = Vec::new();
    let mut changed = Vec::new();
    while let Some(start) = rest.find(OPEN) {
        let after_open = &rest[start + OPEN.len()..];
        let end = after_open
            .find(OPEN_END)
            .ok_or("an opening marker is not closed with -->")?;
        let marker = after_open[..end].trim().to_owned();
        let block_start = start + OPEN.len() + end + OPEN_END.len();
        let close = rest[block_start..]
            .find(CLOSE)
            .ok_or_else(|| format!("<!-- fields: {marker} --> has no {CLOSE}"))?;
        let old_block = &rest[block_start..block_start + close];
        if old_block.contains(OPEN) {
            return Err(format!(
                "<!-- fields: {marker} --> has no {CLOSE} before the next one"
            ));
        }
        let template = template_of(&marker);
        let item = paths
            .get(&template)
            .ok_or_else(|| format!("<!-- fields: {marker} -->: the document has no {template}"))?;
        if seen.contains(&template) {
            return Err(format!("{template} has two blocks"));
        }
        seen.push(template.clone());
        let new_block = format!("\n\n{}\n", render(&template, item));
        if new_block != old_block {
            changed.push(marker.clone());
        }
        out.push_str(&rest[..block_start]);
        out.push_str(&new_block);
        out.push_str(CLOSE);
        rest = &rest[block_start + close + CLOSE.len()..];
    }
    out.push_str(rest);
    // docs/api.md is the contract of release builds, which have no test hooks (the tick hook of
    // `test-hooks` builds, src/framework/test_hooks.rs).
    let missing: Vec<&String> = paths
        .keys()
        .filter(|p| !seen.contains(p) && !p.starts_with("/test-hooks/"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "docs/api.md has no <!-- fields: ... --> block for {missing:?} (write the path as \
             the page does, e.g. keys/:name for /keys/{{name}})"
        ));
    }
    Ok((out, changed))
}

#[tokio::test]
async fn api_doc_field_tables_match_the_openapi_document() {
    let doc = Harness::new().await.openapi().await;
    let file = api_md();
    let page = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    let (generated, changed) = regenerate(&page, &doc).unwrap_or_else(|e| panic!("{e}"));
    if changed.is_empty() {
        assert_eq!(generated, page, "only the marked blocks are generated");
        return;
    }
    if std::env::var_os(WRITE_VAR).is_some_and(|v| v == "1") {
        std::fs::write(&file, generated)
            .unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
        eprintln!("docs/api.md: regenerated {changed:?}");
        return;
    }
    panic!(
        "docs/api.md field tables drift from the OpenAPI document; run \
         `{WRITE_VAR}=1 cargo test --lib api_doc` to regenerate (blocks that differ: {})",
        changed.join(", ")
    );
}

#[test]
fn markers_and_cells() {
    assert_eq!(template_of("keys/:name"), "/keys/{name}");
    assert_eq!(template_of("schedules/"), "/schedules/");
    assert_eq!(template_of("config"), "/config");
    assert_eq!(
        cell("a|b *c* rotation_period '_' <x>"),
        "a\\|b \\*c\\* rotation_period '\\_' \\<x>"
    );
    assert_eq!(code("^(a|b)$"), "`^(a\\|b)$`");
    assert_eq!(duration(36_525 * 86_400), "36525d");
    assert_eq!(duration(300), "5m");
    assert_eq!(duration(5_400), "90m");
    assert_eq!(duration(7), "7s");

    let doc = serde_json::json!({"paths": {"/a/{name}": {"get": {"summary": "Read."}}}});
    let page = "x\n<!-- fields: a/:name -->\nold\n<!-- /fields -->\ny\n";
    let (out, changed) = regenerate(page, &doc).unwrap();
    assert_eq!(changed, ["a/:name"]);
    assert!(
        out.starts_with("x\n<!-- fields: a/:name -->\n\n| Operation |"),
        "{out}"
    );
    assert!(out.ends_with("<!-- /fields -->\ny\n"), "{out}");
    assert_eq!(
        regenerate(&out, &doc).unwrap(),
        (out.clone(), Vec::<String>::new())
    );
    assert!(regenerate("nothing", &doc)
        .unwrap_err()
        .contains("/a/{name}"));
    assert!(regenerate("<!-- fields: b --><!-- /fields -->", &doc)
        .unwrap_err()
        .contains("no /b"));
}
