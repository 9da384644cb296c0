//! A fake AI provider for tests: one local HTTP server answering, under the real paths, like
//! OpenAI, Anthropic, Gemini, Azure OpenAI, OpenRouter and OpenAI-compatible servers do for the
//! calls the engine makes (key tests, and the admin APIs that create, list, look up and revoke
//! keys),
//! checking each provider's auth header and answering with its error bodies and headers.
//!
//! `/v1/models` is shared: a request carrying `x-api-key` is answered as Anthropic, any other as
//! OpenAI (and OpenAI-compatible). [`Mode`] makes the key-test endpoints
//! ([`FakeProvider::set_mode`]) or the admin endpoints ([`FakeProvider::set_admin_mode`]) fail
//! the way each provider fails. Any other path is a plain HTML 404, like a wrong `base_url`.
//! Self-contained: depends on axum, tokio, serde_json, rand and chrono only.
#![allow(dead_code)]

mod accounts;
mod admin;
mod errors;
mod expiry;
mod http;
mod key_tests;
mod lookup;
mod usage;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::routing::{delete, get, post};
use axum::Router;

use admin::{
    anthropic_update, mint, openai_create, openai_delete_key, openai_delete_sa, openai_list,
    openrouter_create, openrouter_delete, openrouter_list,
};
use http::not_found;
use key_tests::{azure_models, gemini_models, models, openrouter_key};
use lookup::{anthropic_get, openai_get_key, openrouter_get};

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
    mutations: HashMap<String, usize>,
    uris: Vec<String>,
    mode: Option<Mode>,
    admin_mode: Option<Mode>,
    stall_after_create: bool,
    /// Last use of each key value (Unix seconds), see `usage.rs`.
    last_used: HashMap<String, i64>,
    /// Spend of each key value (USD), see `usage.rs`.
    spend: HashMap<String, f64>,
    /// When created keys expire (id to Unix seconds), where a create asked for it.
    expires: HashMap<String, i64>,
    /// OpenAI service accounts, tracked as objects.
    accounts: Vec<accounts::Account>,
    /// The names of keys created inside a service account.
    key_names: HashMap<String, String>,
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
            .route(
                "/api/v1/keys/{hash}",
                get(openrouter_get).delete(openrouter_delete),
            )
            .route(
                &format!("{project}/service_accounts"),
                post(openai_create).get(accounts::openai_list_accounts),
            )
            .route(
                &format!("{project}/service_accounts/{{sa}}/api_keys"),
                post(accounts::openai_create_account_key),
            )
            .route(&format!("{project}/api_keys"), get(openai_list))
            .route(
                &format!("{project}/api_keys/{{id}}"),
                get(openai_get_key).delete(openai_delete_key),
            )
            .route(
                &format!("{project}/service_accounts/{{id}}"),
                delete(openai_delete_sa),
            )
            .route(
                "/v1/organizations/api_keys/{id}",
                get(anthropic_get).post(anthropic_update),
            )
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

    /// Requests that would change key `id` (OpenAI and OpenRouter deletes, Anthropic status
    /// updates), counted before any check, so refused ones count too.
    pub fn mutation_requests(&self, id: &str) -> usize {
        self.lock().mutations.get(id).copied().unwrap_or(0)
    }

    /// Registers a key made at OpenAI by a person in `project` (not by the engine): valid, with
    /// project API key id `id`.
    pub fn add_openai_key(&self, project: &str, id: &str, value: &str) {
        let owner = format!("{project}/svc_acct_person");
        mint(
            &self.state,
            id.into(),
            value.into(),
            owner,
            "made by a person",
        );
    }

    /// Registers a key made at OpenRouter by a person: valid, with hash `hash`.
    pub fn add_openrouter_key(&self, hash: &str, value: &str) {
        let owner = "openrouter".to_string();
        mint(
            &self.state,
            hash.into(),
            value.into(),
            owner,
            "made by a person",
        );
    }

    /// When created key `id` expires at the provider (Unix seconds), if its create asked.
    pub fn key_expires_at(&self, id: &str) -> Option<i64> {
        self.lock().expires.get(id).copied()
    }

    /// The live OpenAI service accounts of `project`: `(id, name, active keys)`.
    pub fn service_accounts(&self, project: &str) -> Vec<(String, String, usize)> {
        accounts::summary(&self.lock(), project)
    }

    /// Registers a key as the previous release created it: alone in a service account named
    /// `account_name` in `project`, with project API key id `id`. Returns the account's id.
    pub fn add_legacy_openai_key(
        &self,
        project: &str,
        account_name: &str,
        id: &str,
        value: &str,
    ) -> String {
        let sa = format!("svc_acct_legacy_{id}");
        accounts::register(&mut self.lock(), project, &sa, account_name);
        let owner = format!("{project}/{sa}");
        mint(&self.state, id.into(), value.into(), owner, account_name);
        sa
    }

    /// Forgets the request counts and URIs.
    pub fn reset_hits(&self) {
        let mut s = self.lock();
        s.hits.clear();
        s.mutations.clear();
        s.uris.clear();
    }

    /// Every request URI received (path and query): no key should ever be in one.
    pub fn uris(&self) -> Vec<String> {
        self.lock().uris.clone()
    }
}
