//! A fake AI provider for tests: one local HTTP server answering, under the real paths, like
//! OpenAI, Anthropic, Gemini, Azure OpenAI, OpenRouter and OpenAI-compatible servers do for the
//! calls the engine makes (key tests, and the admin APIs that create, list and revoke keys),
//! checking each provider's auth header and answering with its error bodies and headers.
//!
//! `/v1/models` is shared: a request carrying `x-api-key` is answered as Anthropic, any other as
//! OpenAI (and OpenAI-compatible). [`Mode`] makes the key-test endpoints
//! ([`FakeProvider::set_mode`]) or the admin endpoints ([`FakeProvider::set_admin_mode`]) fail
//! the way each provider fails. Any other path is a plain HTML 404, like a wrong `base_url`.
//! Self-contained: depends on axum, tokio, serde_json, rand and chrono only.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use rand::Rng;
use serde_json::{json, Value};

/// How the fake answers (each provider in its own words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Checks keys and answers normally.
    Normal,
    /// 401 for every key (Anthropic `authentication_error`, OpenAI `invalid_api_key`, ...).
    Unauthorized401,
    /// 402 (Anthropic `billing_error`, OpenRouter "Insufficient credits", ...).
    Billing402,
    /// 429 rate limit, with the provider's rate-limit headers.
    RateLimited429,
    /// 429 out of quota: OpenAI `insufficient_quota`; the others have only their plain 429.
    QuotaExhausted429,
    /// 500 server error.
    ServerError500,
    /// Anthropic 529 `overloaded_error`; 503 elsewhere.
    Overloaded529,
    /// Answers nothing until the mode changes (60 s at most).
    Stall,
    /// 401 whose error type, code, status and reason fields echo the presented key.
    EchoKey,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    OpenAi,
    Anthropic,
    Gemini,
    Azure,
    OpenRouter,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Missing,
    Invalid,
    Denied,
    Billing,
    Rate,
    Quota,
    Server,
    Overloaded,
    NotFound,
    BadRequest,
}

struct Minted {
    id: String,
    value: String,
    active: bool,
    owner: String,
    name: String,
}

#[derive(Default)]
struct Inner {
    keys: HashSet<String>,
    admin_keys: HashSet<String>,
    minted: Vec<Minted>,
    anthropic: HashMap<String, (String, String)>,
    limits: HashMap<String, Option<f64>>,
    hits: HashMap<String, usize>,
    uris: Vec<String>,
    mode: Option<Mode>,
    admin_mode: Option<Mode>,
    stall_after_create: bool,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake; dropping it stops the server.
pub struct FakeProvider {
    base_url: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeProvider {
    /// Starts the server on 127.0.0.1 with a free port.
    pub async fn start() -> FakeProvider {
        let state = Shared::default();
        let project = "/v1/organization/projects/{p}";
        let app = Router::new()
            .route("/v1/models", get(models))
            .route("/v1beta/models", get(gemini_models))
            .route("/openai/models", get(azure_models))
            .route("/api/v1/key", get(openrouter_key))
            .route("/api/v1/keys", post(openrouter_create).get(openrouter_list))
            .route("/api/v1/keys/{hash}", delete(openrouter_delete))
            .route(&format!("{project}/service_accounts"), post(openai_create))
            .route(&format!("{project}/api_keys"), get(openai_list))
            .route(
                &format!("{project}/api_keys/{{id}}"),
                delete(openai_delete_key),
            )
            .route(
                &format!("{project}/service_accounts/{{id}}"),
                delete(openai_delete_sa),
            )
            .route("/v1/organizations/api_keys/{id}", post(anthropic_update))
            .fallback(not_found)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeProvider {
            base_url: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`, to use as a provider's `base_url`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap()
    }

    /// Makes `value` a valid key for every key-test endpoint.
    pub fn add_key(&self, value: &str) {
        self.lock().keys.insert(value.to_string());
    }

    /// Makes `value` invalid.
    pub fn remove_key(&self, value: &str) {
        self.lock().keys.remove(value);
    }

    /// Whether `value` is currently a valid key.
    pub fn is_valid_key(&self, value: &str) -> bool {
        self.lock().keys.contains(value)
    }

    /// Accepts `value` as an admin key (OpenAI admin, Anthropic admin, OpenRouter management).
    pub fn add_admin_key(&self, value: &str) {
        self.lock().admin_keys.insert(value.to_string());
    }

    /// Registers an Anthropic key (as made in the Console): valid, status `active`.
    pub fn add_anthropic_key(&self, id: &str, value: &str) {
        let mut s = self.lock();
        s.keys.insert(value.to_string());
        s.anthropic
            .insert(id.into(), (value.into(), "active".into()));
    }

    /// The status (`active`, `inactive`, `archived`) of Anthropic key `id`.
    pub fn anthropic_key_status(&self, id: &str) -> Option<String> {
        self.lock()
            .anthropic
            .get(id)
            .map(|(_, status)| status.clone())
    }

    /// Keys created through the admin APIs: `(provider id, value, active)`.
    pub fn created_keys(&self) -> Vec<(String, String, bool)> {
        let s = self.lock();
        s.minted
            .iter()
            .map(|k| (k.id.clone(), k.value.clone(), k.active))
            .collect()
    }

    /// Whether created key (or Anthropic key) `id` is active.
    pub fn is_active(&self, id: &str) -> bool {
        let s = self.lock();
        s.minted.iter().any(|k| k.id == id && k.active)
            || s.anthropic
                .get(id)
                .is_some_and(|(_, status)| status == "active")
    }

    /// OpenRouter `limit_remaining` of key `value` (`None`: no limit, reported as null).
    pub fn set_limit_remaining(&self, value: &str, remaining: Option<f64>) {
        self.lock().limits.insert(value.to_string(), remaining);
    }

    /// How the key-test endpoints answer from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = Some(mode);
    }

    /// How the admin endpoints answer from now on.
    /// While set, key-creating calls create the key and then do not answer (at most 60 s): the
    /// moment between "key created at the provider" and "version stored" in the engine.
    pub fn set_stall_after_create(&self, on: bool) {
        self.lock().stall_after_create = on;
    }

    /// Keys created through the admin APIs that are still active.
    pub fn active_created_keys(&self) -> Vec<String> {
        self.created_keys()
            .into_iter()
            .filter(|(_, _, active)| *active)
            .map(|(id, _, _)| id)
            .collect()
    }

    pub fn set_admin_mode(&self, mode: Mode) {
        self.lock().admin_mode = Some(mode);
    }

    /// Requests received whose path starts with `path_prefix`.
    pub fn hits(&self, path_prefix: &str) -> usize {
        let s = self.lock();
        s.hits
            .iter()
            .filter(|(p, _)| p.starts_with(path_prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Forgets the request counts and URIs.
    pub fn reset_hits(&self) {
        let mut s = self.lock();
        s.hits.clear();
        s.uris.clear();
    }

    /// Every request URI received (path and query): no key should ever be in one.
    pub fn uris(&self) -> Vec<String> {
        self.lock().uris.clone()
    }
}

// ---- helpers ----

fn record(state: &Shared, uri: &Uri) {
    let mut s = state.lock().unwrap();
    *s.hits.entry(uri.path().to_string()).or_default() += 1;
    s.uris.push(uri.to_string());
}

/// Waits while `stall_after_create` is set (bounded to 60 s).
async fn stall_after_create(state: &Shared) {
    let started = Instant::now();
    while state.lock().unwrap().stall_after_create && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Counts the request, waits out a stall, and returns the mode in force.
async fn enter(state: &Shared, uri: &Uri, admin: bool) -> Mode {
    record(state, uri);
    let started = Instant::now();
    loop {
        let mode = {
            let s = state.lock().unwrap();
            if admin { s.admin_mode } else { s.mode }.unwrap_or(Mode::Normal)
        };
        if mode != Mode::Stall || started.elapsed() > Duration::from_secs(60) {
            return mode;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    header(headers, "authorization").and_then(|v| v.strip_prefix("Bearer "))
}

fn query<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn random(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

fn hex(len: usize) -> String {
    random(b"0123456789abcdef", len)
}

fn base62(len: usize) -> String {
    random(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        len,
    )
}

/// `sk-ab...wxyz`, the way providers show a key back.
fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{}...{tail}", chars.iter().take(5).collect::<String>())
}

fn respond(status: u16, headers: &[(&str, String)], body: Value) -> Response {
    let mut b = Response::builder().status(StatusCode::from_u16(status).unwrap());
    b = b.header("content-type", "application/json");
    for (name, value) in headers {
        b = b.header(*name, value.as_str());
    }
    b.body(body.to_string().into()).unwrap()
}

fn body_json(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// Any other path: counted, answered like a web server that does not know it.
async fn not_found(State(s): State<Shared>, uri: Uri) -> Response {
    record(&s, &uri);
    let page = "<html><body><h1>404 Not Found</h1></body></html>";
    let mut r = Response::new(page.into());
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

// ---- each provider's errors ----

fn mode_kind(mode: Mode, flavor: Flavor) -> (u16, Kind) {
    match mode {
        Mode::Unauthorized401 => (401, Kind::Denied),
        Mode::Billing402 => (402, Kind::Billing),
        Mode::RateLimited429 => (429, Kind::Rate),
        Mode::QuotaExhausted429 => (429, Kind::Quota),
        Mode::ServerError500 => (500, Kind::Server),
        Mode::Overloaded529 if flavor == Flavor::Anthropic => (529, Kind::Overloaded),
        Mode::Overloaded529 => (503, Kind::Overloaded),
        Mode::Normal | Mode::Stall | Mode::EchoKey => unreachable!("not an error mode"),
    }
}

/// The provider's error answer; `key` is the presented key (for masked echoes), `msg` the
/// message of `NotFound` and `BadRequest`. (A table per provider: kept one row a line.)
#[rustfmt::skip]
fn error(flavor: Flavor, status: u16, kind: Kind, key: &str, msg: &str) -> Response {
    use Kind::*;
    let limited = matches!(kind, Rate | Quota);
    match flavor {
        Flavor::OpenAi => {
            let incorrect = format!("Incorrect API key provided: {}.", masked(key));
            let (ty, code, message) = match kind {
                Invalid => ("invalid_request_error", Some("invalid_api_key"), incorrect.as_str()),
                Missing => ("invalid_request_error", None, "You didn't provide an API key."),
                Denied => ("invalid_request_error", Some("invalid_api_key"), "Invalid key."),
                Billing => ("billing_error", Some("billing_not_active"), "Account not active."),
                Rate => ("requests", Some("rate_limit_exceeded"), "Rate limit reached for requests."),
                Quota => ("insufficient_quota", Some("insufficient_quota"), "You exceeded your current quota, please check your plan and billing details."),
                Server => ("server_error", None, "The server had an error while processing your request."),
                Overloaded => ("server_error", Some("engine_overloaded"), "The engine is currently overloaded."),
                NotFound | BadRequest => ("invalid_request_error", None, msg),
            };
            let mut h = vec![("x-request-id", format!("req_{}", hex(32)))];
            if limited {
                h.push(("x-ratelimit-limit-requests", "500".into()));
                h.push(("x-ratelimit-remaining-requests", "0".into()));
                h.push(("x-ratelimit-reset-requests", "120ms".into()));
            }
            let e = json!({"message": message, "type": ty, "param": null, "code": code});
            respond(status, &h, json!({ "error": e }))
        }
        Flavor::Anthropic => {
            let (ty, message) = match kind {
                Invalid | Denied => ("authentication_error", "invalid x-api-key"),
                Missing => ("authentication_error", "x-api-key header is required"),
                Billing => ("billing_error", "Your credit balance is too low to access the Anthropic API."),
                Rate | Quota => ("rate_limit_error", "This request would exceed your rate limit."),
                Server => ("api_error", "Internal server error"),
                Overloaded => ("overloaded_error", "Overloaded"),
                NotFound => ("not_found_error", msg),
                BadRequest => ("invalid_request_error", msg),
            };
            let rid = format!("req_011C{}", base62(20));
            let mut h = vec![("request-id", rid.clone())];
            if limited {
                h.push(("retry-after", "1".into()));
                h.push(("anthropic-ratelimit-requests-remaining", "0".into()));
            }
            let e = json!({"type": ty, "message": message});
            respond(status, &h, json!({"type": "error", "error": e, "request_id": rid}))
        }
        Flavor::Gemini => {
            let (st, message, reason) = match kind {
                Invalid => ("INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", Some("API_KEY_INVALID")),
                Missing => ("PERMISSION_DENIED", "Method doesn't allow unregistered callers.", None),
                Denied => ("UNAUTHENTICATED", "Request had invalid authentication credentials.", None),
                Billing => ("FAILED_PRECONDITION", "Billing is not enabled.", None),
                Rate | Quota => ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", None),
                Server => ("INTERNAL", "An internal error has occurred.", None),
                Overloaded => ("UNAVAILABLE", "The model is overloaded.", None),
                NotFound => ("NOT_FOUND", msg, None),
                BadRequest => ("INVALID_ARGUMENT", msg, None),
            };
            let status = if kind == Invalid { 400 } else { status };
            let mut e = json!({"code": status, "message": message, "status": st});
            if let Some(reason) = reason {
                e["details"] = json!([
                    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com",
                     "metadata": {"service": "generativelanguage.googleapis.com"}},
                    {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": message}]);
            }
            respond(status, &[], json!({ "error": e }))
        }
        Flavor::Azure => {
            let message = match kind {
                Invalid | Missing | Denied => "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
                Rate | Quota => "Requests have exceeded call rate limit of your current pricing tier.",
                Billing => "Payment required.",
                Server | Overloaded => "The service is temporarily unavailable.",
                NotFound | BadRequest => msg,
            };
            let uuid = format!("{}-{}-4{}-a{}-{}", hex(8), hex(4), hex(3), hex(3), hex(12));
            let mut h = vec![("apim-request-id", uuid)];
            if limited {
                h.push(("retry-after", "1".into()));
                h.push(("retry-after-ms", "250".into()));
            }
            let e = json!({"code": status.to_string(), "message": message});
            respond(status, &h, json!({ "error": e }))
        }
        Flavor::OpenRouter => {
            let message = match kind {
                Invalid | Missing | Denied => "No auth credentials found",
                Billing => "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
                Rate | Quota => "Rate limit exceeded",
                Server => "Internal Server Error",
                Overloaded => "Service temporarily unavailable",
                NotFound | BadRequest => msg,
            };
            let h = [("x-ratelimit-remaining", if limited { "0" } else { "19" }.to_string())];
            respond(status, &h, json!({"error": {"code": status, "message": message}}))
        }
    }
}

/// The hostile answer of [`Mode::EchoKey`].
fn echo(key: &str) -> Response {
    let e = json!({"type": key, "code": key, "status": key, "message": key, "details": [{"reason": key}]});
    respond(
        401,
        &[],
        json!({"type": "error", "request_id": key, "error": e}),
    )
}

/// Mode, then the key from the provider's header, checked against `valid`.
async fn gate(
    state: &Shared,
    uri: &Uri,
    flavor: Flavor,
    key: Option<&str>,
    admin: bool,
) -> Result<String, Response> {
    let mode = enter(state, uri, admin).await;
    let key = key.unwrap_or_default();
    match mode {
        Mode::Normal => {}
        Mode::EchoKey => return Err(echo(key)),
        other => {
            let (status, kind) = mode_kind(other, flavor);
            return Err(error(flavor, status, kind, key, ""));
        }
    }
    let s = state.lock().unwrap();
    let valid = if admin { &s.admin_keys } else { &s.keys };
    if key.is_empty() {
        let status = if flavor == Flavor::Gemini { 403 } else { 401 };
        Err(error(flavor, status, Kind::Missing, key, ""))
    } else if !valid.contains(key) {
        Err(error(flavor, 401, Kind::Invalid, key, ""))
    } else {
        Ok(key.to_string())
    }
}

// ---- key-test endpoints ----

fn model_list() -> Value {
    json!({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}]})
}

async fn models(State(s): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    if let Some(key) = header(&headers, "x-api-key") {
        if header(&headers, "anthropic-version").is_none() {
            record(&s, &uri);
            let msg = "anthropic-version: header is required";
            return error(Flavor::Anthropic, 400, Kind::BadRequest, key, msg);
        }
        return match gate(&s, &uri, Flavor::Anthropic, Some(key), false).await {
            Err(r) => r,
            Ok(_) => respond(
                200,
                &[("request-id", format!("req_011C{}", base62(20)))],
                json!({
                "data": [{"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"}],
                "has_more": true, "first_id": "claude-sonnet-4-5", "last_id": "claude-sonnet-4-5"}),
            ),
        };
    }
    match gate(&s, &uri, Flavor::OpenAi, bearer(&headers), false).await {
        Err(r) => r,
        Ok(_) => respond(
            200,
            &[("x-request-id", format!("req_{}", hex(32)))],
            model_list(),
        ),
    }
}

async fn gemini_models(State(s): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    // The real API also takes `?key=`; the engine must not use it (see `uris`).
    let key = header(&headers, "x-goog-api-key").or_else(|| query(&uri, "key"));
    match gate(&s, &uri, Flavor::Gemini, key, false).await {
        Err(r) => r,
        Ok(_) => respond(
            200,
            &[],
            json!({"models": [{"name": "models/gemini-2.5-flash",
            "displayName": "Gemini 2.5 Flash", "supportedGenerationMethods": ["generateContent"]}], "nextPageToken": "Ch9tb2RlbHM"}),
        ),
    }
}

async fn azure_models(State(s): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    if query(&uri, "api-version").is_none() {
        record(&s, &uri);
        return error(Flavor::Azure, 404, Kind::NotFound, "", "Resource not found");
    }
    match gate(&s, &uri, Flavor::Azure, header(&headers, "api-key"), false).await {
        Err(r) => r,
        Ok(_) => respond(200, &[("apim-request-id", hex(32))], model_list()),
    }
}

async fn openrouter_key(State(s): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let key = match gate(&s, &uri, Flavor::OpenRouter, bearer(&headers), false).await {
        Err(r) => return r,
        Ok(key) => key,
    };
    let remaining = s.lock().unwrap().limits.get(&key).copied().flatten();
    let limit = remaining.map(|r| r.max(0.0) + 5.0);
    respond(
        200,
        &[],
        json!({"data": {"label": masked(&key), "limit": limit, "usage": 5.0,
        "limit_remaining": remaining, "limit_reset": null, "is_free_tier": false,
        "is_provisioning_key": false, "rate_limit": {"requests": 1000, "interval": "10s"}}}),
    )
}

// ---- admin endpoints ----

/// Deactivates minted keys matching `pred`; returns how many.
fn deactivate(state: &Shared, pred: impl Fn(&Minted) -> bool) -> usize {
    let mut s = state.lock().unwrap();
    let gone: Vec<String> = s
        .minted
        .iter_mut()
        .filter(|k| k.active && pred(k))
        .map(|k| {
            k.active = false;
            k.value.clone()
        })
        .collect();
    for value in &gone {
        s.keys.remove(value);
    }
    gone.len()
}

/// Mints a key; returns `(id, value)`.
fn mint(state: &Shared, id: String, value: String, owner: String, name: &str) -> (String, String) {
    let mut s = state.lock().unwrap();
    s.keys.insert(value.clone());
    let m = Minted {
        id: id.clone(),
        value: value.clone(),
        active: true,
        owner,
        name: name.into(),
    };
    s.minted.push(m);
    (id, value)
}

async fn openai_create(
    State(s): State<Shared>,
    Path(project): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let Some(name) = body_json(&body)["name"].as_str().map(str::to_string) else {
        return error(
            Flavor::OpenAi,
            400,
            Kind::BadRequest,
            "",
            "Missing required parameter: 'name'.",
        );
    };
    let sa = format!("svc_acct_{}", hex(24));
    let value = format!("sk-svcacct-{}", base62(64));
    let (id, value) = mint(
        &s,
        format!("key_{}", base62(16)),
        value,
        format!("{project}/{sa}"),
        &name,
    );
    stall_after_create(&s).await;
    let now = chrono::Utc::now().timestamp();
    respond(
        200,
        &[("x-request-id", format!("req_{}", hex(32)))],
        json!({
        "object": "organization.project.service_account", "id": sa, "name": name, "role": "member", "created_at": now,
        "api_key": {"object": "organization.project.service_account.api_key", "value": value,
            "name": "Secret Key", "created_at": now, "id": id}}),
    )
}

/// `GET .../api_keys`: the project's active keys, at most 2 a page (`limit` is only a maximum),
/// with the `after` cursor.
async fn openai_list(
    State(s): State<Shared>,
    Path(project): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let prefix = format!("{project}/");
    let st = s.lock().unwrap();
    let all: Vec<&Minted> = st
        .minted
        .iter()
        .filter(|k| k.active && k.owner.starts_with(&prefix))
        .collect();
    let start = query(&uri, "after")
        .and_then(|a| all.iter().position(|k| k.id == a))
        .map_or(0, |i| i + 1);
    let page: Vec<Value> = all.iter().skip(start).take(2).map(|k| json!({
        "object": "organization.project.api_key", "redacted_value": masked(&k.value), "name": "Secret Key",
        "created_at": 1711471533, "last_used_at": null, "id": k.id, "owner": {"type": "service_account",
        "service_account": {"id": &k.owner[prefix.len()..], "name": k.name, "role": "member", "created_at": 1711471533}}})).collect();
    let more = start + page.len() < all.len();
    let (first, last) = (
        page.first().map(|k| k["id"].clone()),
        page.last().map(|k| k["id"].clone()),
    );
    respond(
        200,
        &[],
        json!({"object": "list", "data": page, "first_id": first, "last_id": last, "has_more": more}),
    )
}

async fn openai_delete_key(
    State(s): State<Shared>,
    Path((project, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let prefix = format!("{project}/");
    if deactivate(&s, |k| k.id == id && k.owner.starts_with(&prefix)) == 0 {
        return error(
            Flavor::OpenAi,
            404,
            Kind::NotFound,
            "",
            &format!("No such API key: {id}"),
        );
    }
    respond(
        200,
        &[],
        json!({"object": "organization.project.api_key.deleted", "id": id, "deleted": true}),
    )
}

async fn openai_delete_sa(
    State(s): State<Shared>,
    Path((project, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let owner = format!("{project}/{id}");
    if deactivate(&s, |k| k.owner == owner) == 0 {
        return error(
            Flavor::OpenAi,
            404,
            Kind::NotFound,
            "",
            &format!("No such service account: {id}"),
        );
    }
    respond(
        200,
        &[],
        json!({"object": "organization.project.service_account.deleted", "id": id, "deleted": true}),
    )
}

async fn anthropic_update(
    State(s): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(
        &s,
        &uri,
        Flavor::Anthropic,
        header(&headers, "x-api-key"),
        true,
    )
    .await
    {
        return r;
    }
    let bad = |msg: &str| error(Flavor::Anthropic, 400, Kind::BadRequest, "", msg);
    if header(&headers, "anthropic-version").is_none() {
        return bad("anthropic-version: header is required");
    }
    let wanted = body_json(&body)["status"].as_str().map(str::to_string);
    let mut st = s.lock().unwrap();
    let Some((value, status)) = st.anthropic.get(&id).cloned() else {
        return error(
            Flavor::Anthropic,
            404,
            Kind::NotFound,
            "",
            "API key not found",
        );
    };
    let new = match wanted.as_deref() {
        None => status.clone(),
        Some(w @ ("active" | "inactive" | "archived")) if status != "archived" => w.to_string(),
        Some(_) => return bad("invalid status transition"),
    };
    if new == "active" {
        st.keys.insert(value.clone())
    } else {
        st.keys.remove(&value)
    };
    st.anthropic
        .insert(id.clone(), (value.clone(), new.clone()));
    respond(
        200,
        &[("request-id", format!("req_011C{}", base62(20)))],
        json!({"type": "api_key", "id": id,
        "name": "Staged key", "created_at": "2026-01-05T10:00:00Z", "created_by": {"id": "user_01WCz1FkmYMm4gnmykNKUu3Q", "type": "user"},
        "partial_key_hint": masked(&value), "status": new, "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"}),
    )
}

fn openrouter_view(k: &Minted, limit: Option<f64>) -> Value {
    json!({"hash": k.id, "name": k.name, "label": masked(&k.value), "disabled": false, "limit": limit,
        "limit_remaining": limit, "limit_reset": null, "usage": 0, "created_at": "2026-01-05T10:00:00Z", "updated_at": null})
}

async fn openrouter_create(
    State(s): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenRouter, bearer(&headers), true).await {
        return r;
    }
    let body = body_json(&body);
    let Some(name) = body["name"].as_str() else {
        return error(
            Flavor::OpenRouter,
            400,
            Kind::BadRequest,
            "",
            "name is required",
        );
    };
    let limit = body["limit"].as_f64();
    let (_, value) = mint(
        &s,
        hex(64),
        format!("sk-or-v1-{}", hex(64)),
        "openrouter".into(),
        name,
    );
    let data = {
        let mut st = s.lock().unwrap();
        st.limits.insert(value.clone(), limit);
        openrouter_view(st.minted.last().unwrap(), limit)
    };
    stall_after_create(&s).await;
    respond(201, &[], json!({"data": data, "key": value}))
}

/// `GET /api/v1/keys`: the management key's keys, 2 a page, paged by `offset`.
async fn openrouter_list(State(s): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenRouter, bearer(&headers), true).await {
        return r;
    }
    let offset: usize = query(&uri, "offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let st = s.lock().unwrap();
    let keys = st
        .minted
        .iter()
        .filter(|k| k.active && k.owner == "openrouter");
    let page: Vec<Value> = keys
        .skip(offset)
        .take(2)
        .map(|k| openrouter_view(k, st.limits.get(&k.value).copied().flatten()))
        .collect();
    respond(200, &[], json!({ "data": page }))
}

async fn openrouter_delete(
    State(s): State<Shared>,
    Path(hash): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenRouter, bearer(&headers), true).await {
        return r;
    }
    if deactivate(&s, |k| k.id == hash && k.owner == "openrouter") == 0 {
        return error(Flavor::OpenRouter, 404, Kind::NotFound, "", "Key not found");
    }
    respond(200, &[], json!({"deleted": true}))
}
