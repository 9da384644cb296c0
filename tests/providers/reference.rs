//! The fake against the providers' references: each documented example request, sent as the
//! reference shows it, gets an answer with the documented status, fields and field types (the
//! endpoints and what their references say are listed in the fake's module docs). A fake that
//! drifts from the references fails here, not in an engine test that trusted it.

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::support::fake_provider::FakeProvider;

#[path = "reference_openai.rs"]
mod openai;

pub(super) const ADMIN: &str = "sk-admin-Rf3nT8wQ1zLp6XyB4cVm";
const PROJECT: &str = "proj_abc";

pub(super) struct Api {
    pub(super) http: Client,
    pub(super) base: String,
}

impl Api {
    pub(super) async fn start() -> (FakeProvider, Api) {
        let fake = FakeProvider::start().await;
        fake.add_admin_key(ADMIN);
        let api = Api {
            http: Client::new(),
            base: fake.base_url(),
        };
        (fake, api)
    }

    /// An OpenAI Admin API call with the admin key, as the reference's curl examples make it.
    pub(super) async fn openai(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = format!("{}/v1/organization/projects/{PROJECT}{path}", self.base);
        let mut req = self.http.request(method, url).bearer_auth(ADMIN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        answer(req).await
    }
}

pub(super) async fn answer(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let reply = req.send().await.expect("the fake answers");
    let status = reply.status();
    (status, reply.json().await.unwrap_or(Value::Null))
}

/// `v[field]` is present and of `kind` ("string", "integer", "boolean", "null", "object",
/// "array", "string|null", "integer|null").
#[track_caller]
pub(super) fn has(v: &Value, field: &str, kind: &str) {
    let x = v
        .get(field)
        .unwrap_or_else(|| panic!("no {field} in {v:#}"));
    let ok = kind.split('|').any(|k| match k {
        "string" => x.is_string(),
        "integer" => x.is_i64(),
        "boolean" => x.is_boolean(),
        "null" => x.is_null(),
        "object" => x.is_object(),
        "array" => x.is_array(),
        "number" => x.is_number(),
        other => panic!("unknown kind {other}"),
    });
    assert!(ok, "{field} is not {kind}: {v:#}");
}

/// OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`.
#[track_caller]
pub(super) fn openai_error(body: &Value, ty: &str) {
    let e = &body["error"];
    has(e, "message", "string");
    assert_eq!(e["type"], ty, "{body:#}");
    has(e, "param", "string|null");
    has(e, "code", "string|null");
}

/// Anthropic "Get API Key" and "Update API Key": the documented object; `archived` is final and
/// `expired` is shown once `expires_at` has passed, and neither can be changed.
#[tokio::test]
async fn anthropic_api_key_examples() {
    let (fake, api) = Api::start().await;
    let id = "apikey_01Rj2N8SVvo6BePZj99NhmiT";
    fake.add_anthropic_key(id, "sk-ant-api03-R2D2C3POabcdefghijkligAA");
    let call = |method: Method, id: &str, body: Option<Value>| {
        let url = format!("{}/v1/organizations/api_keys/{id}", api.base);
        let mut req = api
            .http
            .request(method, url)
            .header("x-api-key", ADMIN)
            .header("anthropic-version", "2023-06-01");
        if let Some(body) = body {
            req = req.json(&body);
        }
        answer(req)
    };
    let (status, got) = call(Method::GET, id, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["type"], "api_key");
    assert_eq!(got["status"], "active");
    assert_eq!(got["partial_key_hint"], "sk-ant-api03-R2D...igAA");
    for (field, kind) in [
        ("id", "string"),
        ("name", "string"),
        ("created_at", "string"),
        ("created_by", "object"),
        ("expires_at", "string|null"),
        ("workspace_id", "string|null"),
    ] {
        has(&got, field, kind);
    }
    let (status, inactive) = call(Method::POST, id, Some(json!({"status": "inactive"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inactive["status"], "inactive");
    let (_, archived) = call(Method::POST, id, Some(json!({"status": "archived"}))).await;
    assert_eq!(archived["status"], "archived");
    let (status, refused) = call(Method::POST, id, Some(json!({"status": "active"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "archived is permanent");
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["error"]["type"], "invalid_request_error");

    let old = "apikey_01Expired000000000000";
    let past = chrono::Utc::now().timestamp() - 60;
    fake.add_anthropic_key_expiring(old, "sk-ant-api03-Old0Key0abcdefghijkl0000", past);
    let (_, expired) = call(Method::GET, old, None).await;
    assert_eq!(expired["status"], "expired", "{expired:#}");
    has(&expired, "expires_at", "string");
    let (status, _) = call(Method::POST, old, Some(json!({"status": "inactive"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "expired cannot be changed");
    let (status, missing) = call(Method::GET, "apikey_01Unknown", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"]["type"], "not_found_error");
}

/// OpenRouter "List API keys" (`include_disabled`, `offset`) and "Create API key": newest
/// first, disabled keys only when asked, the documented key fields.
#[tokio::test]
async fn openrouter_list_examples() {
    let (fake, api) = Api::start().await;
    let mut hashes = Vec::new();
    for n in 0..3 {
        let url = format!("{}/api/v1/keys", api.base);
        let body = json!({"name": format!("key-{n}"), "limit": 10});
        let (status, made) = answer(api.http.post(url).bearer_auth(ADMIN).json(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{made:#}");
        has(&made, "key", "string");
        hashes.push(made["data"]["hash"].as_str().unwrap().to_string());
    }
    fake.set_openrouter_disabled(&hashes[1], true);
    let list = |query: &str| {
        let url = format!("{}/api/v1/keys{query}", api.base);
        answer(api.http.get(url).bearer_auth(ADMIN))
    };
    let names = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, page) = list("").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        names(&page),
        ["key-2", "key-0"],
        "newest first, no disabled"
    );
    let (_, page) = list("?include_disabled=true").await;
    assert_eq!(names(&page), ["key-2", "key-1", "key-0"]);
    let (_, page) = list("?include_disabled=true&offset=2").await;
    assert_eq!(names(&page), ["key-0"]);
    let key = &page["data"][0];
    for (field, kind) in [
        ("hash", "string"),
        ("name", "string"),
        ("label", "string"),
        ("disabled", "boolean"),
        ("limit", "number|null"),
        ("limit_remaining", "number|null"),
        ("usage", "number"),
        ("usage_daily", "number"),
        ("usage_weekly", "number"),
        ("usage_monthly", "number"),
        ("created_at", "string"),
        ("updated_at", "string|null"),
        ("expires_at", "string|null"),
    ] {
        has(key, field, kind);
    }
}
