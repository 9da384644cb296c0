//! Hostile input on every path and operation the server's OpenAPI document lists for the mount:
//! malformed JSON, wrong types, huge strings and maps (MBs), deep nesting, names with traversal,
//! control characters and unicode, negative and overflowing durations, out-of-range times, unknown
//! fields next to a bad one. Each must get a 4xx whose message says something (never a 5xx, never
//! an empty error), and the mount's storage (every entry, read through `sys/raw`) must be byte for
//! byte what it was.
//!
//! Size: `AI_KEYS_SOAK_HUGE_MB` (default 2), the size of the huge strings and maps.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{figures, size};
use crate::providers::{create_key, openai_provider};
use crate::support::checks::{read_ok, secret};
use crate::support::fake_provider::FakeProvider;
use crate::support::raw::{raw_get, raw_list};
use crate::support::tick::is_test_hook;
use crate::support::{Bao, Client};

/// One operation of the OpenAPI document: method, path (with `{name}` etc.) and its fields.
pub(crate) struct Op {
    pub method: String,
    pub path: String,
    /// Field name -> (OpenAPI type, format).
    pub fields: BTreeMap<String, (String, String)>,
}

/// The mount's operations from `sys/internal/specs/openapi`, and the document itself. The test
/// builds' tick hook is left out: it is not the API a release serves, and a run of the periodic
/// work may change storage.
pub(crate) async fn mount_operations(client: &Client) -> (Vec<Op>, Value) {
    let doc = client.read("sys/internal/specs/openapi").await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    let doc = doc.body;
    let schemas = &doc["components"]["schemas"];
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/ai-keys/") || is_test_hook(path) {
            continue;
        }
        for method in ["get", "post", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let mut fields = BTreeMap::new();
            let mut schema = &op["requestBody"]["content"]["application/json"]["schema"];
            if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
                schema = &schemas[name];
            }
            for (f, s) in schema["properties"].as_object().into_iter().flatten() {
                fields.insert(f.clone(), type_of(s));
            }
            let params = op["parameters"].as_array().into_iter().flatten();
            for p in params.chain(item["parameters"].as_array().into_iter().flatten()) {
                if p["in"] == "query" && p["name"] != "list" {
                    fields.insert(p["name"].as_str().unwrap().into(), type_of(&p["schema"]));
                }
            }
            ops.push(Op {
                method: method.into(),
                path: path.trim_start_matches('/').to_string(),
                fields,
            });
        }
    }
    assert!(
        ops.len() > 20,
        "too few operations in the OpenAPI document: {}",
        ops.len()
    );
    (ops, doc)
}

fn type_of(s: &Value) -> (String, String) {
    let t = s["type"].as_str().unwrap_or("string").to_string();
    let f = s["format"].as_str().unwrap_or("").to_string();
    (t, f)
}

/// Every entry of the mount's storage with its stored text.
pub(crate) async fn storage_snapshot(client: &Client) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![String::new()];
    while let Some(prefix) = todo.pop() {
        for entry in raw_list(client, &prefix).await {
            let path = format!("{prefix}{entry}");
            if entry.ends_with('/') {
                todo.push(path);
            } else {
                let value = raw_get(client, &path).await.unwrap_or_default();
                out.insert(path, value);
            }
        }
    }
    out
}

/// Wrong-typed and out-of-range values for a field of OpenAPI `(type, format)`.
fn bad_values(name: &str, (t, f): &(String, String), huge: &str) -> Vec<Value> {
    let mut v = vec![
        json!({"nested": {"deeper": [1, 2]}}),
        json!([[1], {"a": null}]),
    ];
    match (t.as_str(), f.as_str()) {
        ("integer" | "number", f) if f != "seconds" => v.extend([
            json!("abc"),
            json!("99999999999999999999999999"),
            json!(1e300),
            json!(-1e300),
            json!("1e400"),
        ]),
        ("boolean", _) => v.extend([json!("maybe"), json!(2), json!("")]),
        (_, "seconds" | "duration") => v.extend([
            json!("-1s"),
            json!(-5),
            json!("99999999999999999999h"),
            json!(9.3e18),
            json!("1e400"),
            json!("30x"),
            json!("P1D"),
            json!("\u{0}5m"),
        ]),
        (_, "date-time") => v.extend([
            json!("9999-99-99T99:99:99Z"),
            json!("+275760-09-13T00:00:00Z"),
            json!("-000001-01-01T00:00:00Z"),
            json!(1e20),
            json!("yesterday"),
        ]),
        ("object", _) => v.truncate(1),
        _ => {}
    }
    if t == "object" {
        v = vec![json!("not a map"), json!([1, 2])];
    }
    // Strings: a value is the only string whose content rules are fixed for every path.
    if name == "value" {
        v.extend([
            json!(huge),
            json!("sk-\u{0}nul"),
            json!("sk-\r\ninjected"),
            json!("sk-\u{1b}[31mred"),
            json!(""),
        ]);
    }
    v
}

/// A name that is not a valid key name: traversal, control characters, unicode, too long.
/// (A literal `../` is resolved by any HTTP client before sending, so traversal is sent
/// percent-encoded.)
fn bad_names() -> Vec<String> {
    let long = "a".repeat(129);
    [
        "a%2F..%2F..%2Fconfig",
        "..%2Fconfig",
        "%2e%2e%2fconfig",
        "a%00b",
        "a%0Ab",
        "%E2%80%AEevil",
        "%D0%BA%D0%BB%D1%8E%D1%87",
        "-leading",
        "trailing-",
        "a%20b",
        "a%7Cb",
        long.as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Replaces `{name}`-style parameters with a live resource of the collection.
fn concrete(path: &str, name: &str) -> String {
    let mut out = String::new();
    for seg in path.split('/') {
        if !out.is_empty() {
            out.push('/');
        }
        if seg.starts_with('{') {
            out.push_str(name);
        } else {
            out.push_str(seg);
        }
    }
    out
}

fn live_name(path: &str) -> &'static str {
    if path.contains("providers/") {
        "oa"
    } else if path.contains("schedules/") {
        "production"
    } else {
        "victim"
    }
}

/// Sends `body` (raw bytes) to `method path`; returns (status, text).
async fn send_raw(bao: &Bao, method: &str, path: &str, body: Option<Vec<u8>>) -> (u16, String) {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut req = http
        .request(method, format!("{}/v1/{path}", bao.addr))
        .header("X-Vault-Token", &bao.token);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, format!("transport error: {e}")),
    }
}

#[derive(Default)]
struct Tally {
    tried: usize,
    by_status: BTreeMap<u16, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, what: &str, status: u16, text: &str) {
        let errors: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let message = errors["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        // OpenBao itself answers a path with non-printable characters with an empty 400, before
        // any plugin sees it.
        let server_refusal = status == 400 && text.is_empty() && what.contains("(bad name)");
        // `verify/` answers a question: a malformed value is simply not valid.
        let not_valid =
            status == 200 && what.contains("/verify/") && text.contains(r#""valid":false"#);
        self.tried += 1;
        *self.by_status.entry(status).or_default() += 1;
        if not_valid {
            return;
        }
        if !(400..500).contains(&status) {
            self.failures.push(format!(
                "{what}: HTTP {status}: {}",
                &text[..text.len().min(300)]
            ));
        } else if status != 404 && status != 405 && !server_refusal && message.trim().is_empty() {
            self.failures.push(format!(
                "{what}: HTTP {status} without a message: {}",
                &text[..text.len().min(200)]
            ));
        }
    }
}

#[tokio::test]
async fn hostile_input_on_every_operation_gets_a_clear_4xx_and_changes_nothing() {
    let mb = size("AI_KEYS_SOAK_HUGE_MB", 2).max(1);
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    openai_provider(&client, &fake, "oa").await;
    let v1 = secret("victim");
    fake.add_key(&v1);
    create_key(&client, "victim", json!({ "value": v1, "provider": "oa" })).await;
    let before = storage_snapshot(&client).await;
    assert!(before.len() > 3, "storage snapshot too small: {before:?}");
    let (ops, _) = mount_operations(&client).await;
    let formats: Vec<&str> = ops
        .iter()
        .flat_map(|o| o.fields.values().map(|(_, f)| f.as_str()))
        .collect();
    for wanted in ["seconds", "date-time", "kvpairs"] {
        assert!(
            formats.contains(&wanted),
            "no {wanted} field in the OpenAPI document"
        );
    }

    let huge = "x".repeat(mb << 20);
    let huge_map: Map<String, Value> = (0..(mb << 20) / 32)
        .map(|i| (format!("k{i:08}"), json!("0123456789abcdef0123")))
        .collect();
    // Built as text: a serde_json value this deep would overflow the test's own stack.
    let deep = format!("{{\"value\": {}1{}}}", "[".repeat(5000), "]".repeat(5000)).into_bytes();
    let mut t = Tally::default();
    for op in &ops {
        let path = concrete(&op.path, live_name(&op.path));
        let m = op.method.as_str();
        let what = |case: &str| format!("{} {path} ({case})", m.to_uppercase());
        if m == "post" {
            for body in [
                b"{\"value\": ".to_vec(),
                b"[1,2,3]".to_vec(),
                b"\"just a string\"".to_vec(),
                b"{\"a\":1,\"a\":2,}".to_vec(),
                vec![0xff, 0xfe, 0x00],
                deep.clone(),
            ] {
                let (s, text) = send_raw(&bao, m, &path, Some(body)).await;
                t.check(&what("malformed JSON"), s, &text);
            }
        }
        for (field, ty) in &op.fields {
            for bad in bad_values(field, ty, &huge) {
                let shown: String = bad.to_string().chars().take(40).collect();
                let mut body = Map::new();
                body.insert(field.clone(), bad.clone());
                body.insert("zz_unknown_field".into(), json!("?"));
                let (s, text) = if m == "post" {
                    let b = serde_json::to_vec(&body).unwrap();
                    send_raw(&bao, m, &path, Some(b)).await
                } else {
                    let Some(q) = bad.as_str().or(bad.as_f64().map(|_| "1e400")) else {
                        continue;
                    };
                    let q: String = url_escape(q);
                    send_raw(&bao, m, &format!("{path}?{field}={q}"), None).await
                };
                t.check(&what(&format!("{field}={shown}")), s, &text);
            }
        }
        if m == "post" && op.fields.contains_key("custom_metadata") {
            let body = json!({ "custom_metadata": huge_map });
            let (s, text) =
                send_raw(&bao, m, &path, Some(serde_json::to_vec(&body).unwrap())).await;
            t.check(&what("huge custom_metadata"), s, &text);
        }
        if op.path.contains('{') {
            for name in bad_names() {
                let p = concrete(&op.path, &name);
                let body = (m == "post").then(|| b"{}".to_vec());
                let (s, text) = send_raw(&bao, m, &p, body).await;
                t.check(&format!("{} {p} (bad name)", m.to_uppercase()), s, &text);
            }
        }
    }

    let after = storage_snapshot(&client).await;
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    figures(
        "hostile_input",
        &[
            ("operations", &ops.len()),
            ("inputs_tried", &t.tried),
            ("statuses", &format!("{:?}", t.by_status).replace(' ', "")),
            ("bad_answers", &t.failures.len()),
            ("storage_entries", &after.len()),
            ("storage_changed", &changed.len()),
        ],
    );
    assert!(
        t.failures.is_empty(),
        "{} bad answers:\n{}",
        t.failures.len(),
        t.failures.join("\n")
    );
    assert!(
        changed.is_empty(),
        "hostile input changed storage entries {changed:?}"
    );
    assert_eq!(
        read_ok(&client, "ai-keys/creds/victim").await["api_key"],
        v1.as_str()
    );
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
