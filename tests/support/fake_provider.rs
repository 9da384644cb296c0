//! A fake AI provider for tests: one local HTTP server answering, under the real paths, like
//! OpenAI, Anthropic, Gemini, Azure OpenAI, OpenRouter and OpenAI-compatible servers do for the
//! calls the engine makes (key tests, and the admin APIs that create, list, look up and revoke
//! keys), checking each provider's auth header and answering with its error bodies and headers.
//!
//! `/v1/models` is shared: a request carrying `x-api-key` is answered as Anthropic, any other as
//! OpenAI (and OpenAI-compatible). [`Mode`] makes the key-test endpoints
//! ([`FakeProvider::set_mode`]) or the admin endpoints ([`FakeProvider::set_admin_mode`]) fail
//! the way each provider fails; [`Switches`] turn the real APIs' hostile behaviours on per test
//! ([`FakeProvider::start_with`], [`FakeProvider::switch`]). Any other path is a plain HTML
//! 404, like a wrong `base_url`. Self-contained: depends on axum, tokio, serde_json, rand and
//! chrono only. `tests/providers/reference.rs` sends the references' example requests and checks
//! the answers' shapes.
//!
//! # What it follows
//!
//! The fake follows the providers' public references, never what is convenient; a fake kinder
//! than the API hides bugs. Each endpoint, with what its reference says:
//!
//! OpenAI Admin API (reference <https://developers.openai.com/api/reference/>, read in the
//! generated SDK `openai/openai-node` `src/resources/admin/organization/projects/` (August
//! 2026), its November 2026 revision as mirrored at
//! <https://www.w3cschool.cn/openai_api/openai_api-reference-resources-admin-subresources-organization-subresources-projects-subresources-service_accounts-methods-create.html>
//! and siblings, and `/work/shared/docs/providers.md`):
//! - `POST /v1/organization/projects/{p}/service_accounts` `{name, create_service_account_only?,
//!   expires_in_seconds?}`: "By default, this also returns an unredacted API key for the service
//!   account"; `create_service_account_only` creates it "without default roles or an API key"
//!   (`api_key: null`); `role` is `member` or `none`: "Service accounts created with default
//!   project membership have role `member`. Accounts created with `create_service_account_only`
//!   have role `none`." `expires_in_seconds` (1 to 31,536,000): "If omitted or null, the key does
//!   not expire unless the effective organization or project policy requires an expiration. When
//!   a policy sets a maximum lifetime, this value must be provided and must not exceed that limit.
//!   A non-null value cannot be used when `create_service_account_only` is true." (`accounts.rs`,
//!   `admin.rs`, `expiry.rs`)
//! - `GET .../service_accounts/{sa}` (retrieve) and `POST .../service_accounts/{sa}` `{name?,
//!   role?: "member" | "owner"}` ("Update project service account"): the account object, `role`
//!   `owner`, `member` or `none`. (`accounts.rs`)
//! - `GET .../service_accounts` and `GET .../api_keys` `?after=&limit=`: "limit can range between
//!   1 and 100, and the default is 20"; `{object: "list", data, first_id, last_id, has_more}`.
//!   `api_keys` also takes `owner_project_access=active|inactive|any`: "If omitted, the endpoint
//!   applies its existing membership-based visibility rules, which may exclude some enabled
//!   keys" (here: every key owned by a service account). (`listing.rs`, `admin.rs`)
//! - `POST .../service_accounts/{sa}/api_keys` `{name?, scopes?, expires_in_seconds?}`: `{id,
//!   created_at, name, object: "organization.project.service_account.api_key", value,
//!   expires_at}`, the value once. (`accounts.rs`)
//! - `GET .../api_keys/{id}`: `{object: "organization.project.api_key", id, name, redacted_value,
//!   created_at, last_used_at, expires_at, owner: {type, service_account: {id, name, role,
//!   created_at}}, owner_project_access}`. (`lookup.rs`)
//! - `POST .../api_keys/{id}` `{expires_in_seconds?, scopes?}` ("Update project API key",
//!   providers.md "Changing a live key"): `expires_in_seconds` 1 to 31,536,000 from the
//!   request, under the key-expiry policy; an expired key cannot be updated; the answer is the
//!   key object with only `redacted_value`. (`expiry.rs`)
//! - `DELETE .../api_keys/{id}`: the August 2026 reference "Returns confirmation of the key
//!   deletion, or an error if the key belonged to a service account"; the November 2026 one
//!   (providers.md "Notes") deletes service-account keys too, leaving the account. Both, by
//!   [`Switches::openai_delete_refuses_service_account_keys`]. `DELETE .../service_accounts/{sa}`
//!   deletes the account with its keys. (`admin.rs`)
//! - `GET /v1/models` with a key whose service account has no role: 401 `invalid_request_error`
//!   "You have insufficient permissions for this operation. Missing scopes: api.model.read. Check
//!   that you have the correct role in your organization (Reader, Writer, Owner) and project
//!   (Viewer, Member, Owner), ..." (OpenAI's answer as quoted in
//!   <https://github.com/marcusquinn/aidevops/issues/24564> and
//!   <https://github.com/microsoft/PowerToys/issues/32989>); the guide
//!   <https://developers.openai.com/api/docs/guides/api-keys>: "If you only create the service
//!   account, assign the roles it needs before it makes model requests." (`key_state.rs`)
//!
//! Anthropic Admin API (<https://platform.claude.com/docs/en/api/admin/api_keys/retrieve>,
//! `.../update`, `.../list`; `anthropics/anthropic-sdk-python`
//! `src/anthropic/resources/beta/organization/api_keys.py`): `GET /v1/organizations/api_keys/{id}`
//! `{id, type: "api_key", name, status, partial_key_hint, created_at, expires_at, workspace_id,
//! created_by}`; `POST` the same path `{name?, status?: "active" | "inactive" | "archived"}`;
//! statuses read `active`, `inactive`, `archived` or `expired` (the list's `status` filter), and
//! `archived` is permanent (providers.md), so a status update of an archived (or expired) key is
//! refused with Anthropic's 400 `invalid_request_error`. (`anthropic.rs`, `lookup.rs`)
//!
//! OpenRouter (<https://openrouter.ai/docs/api/api-reference/api-keys/list> and siblings):
//! `GET /api/v1/keys?include_disabled=&offset=`: "include_disabled: Whether to include disabled
//! API keys in the response", "offset: Number of API keys to skip for pagination"; listed newest
//! first (the reference states no order); `POST /api/v1/keys` (201, `key` once), `GET` and
//! `DELETE /api/v1/keys/{hash}`; `GET /api/v1/key` for the key test. (`admin.rs`, `lookup.rs`,
//! `key_tests.rs`)
//!
//! Every provider: a key whose `expires_at` has passed is refused on its test (401) and shown as
//! expired where the API shows that (Anthropic `status: "expired"`; OpenAI and OpenRouter show
//! `expires_at`). (`key_state.rs`)
//!
//! The references document the rules but not the wording of some refusals (an expiry policy
//! broken, a service-account key the earlier delete refused, an archived key's update): there the
//! fake answers the provider's documented error shape with a message of its own.
#![allow(dead_code)]

mod accounts;
mod admin;
mod anthropic;
mod controls;
mod crowd;
mod errors;
mod expiry;
mod federation;
mod http;
mod key_state;
mod key_tests;
mod listing;
mod lookup;
mod routes;
mod switches;
mod usage;

pub use crowd::Crowd;
pub use switches::{KeyPolicy, Lag, Switches};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// A valid key whose owner lacks the role (OpenAI's "insufficient permissions").
    NoRole,
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
    /// Unix seconds.
    created_at: i64,
    /// OpenRouter `disabled`.
    disabled: bool,
    /// When it shows in lists.
    listing: switches::Listing,
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
    /// Expiry updates answered (`expiry.rs`): (key id, `expires_in_seconds`).
    expiry_updates: Vec<(String, serde_json::Value)>,
    /// OpenAI service accounts, tracked as objects.
    accounts: Vec<accounts::Account>,
    /// The names of keys created inside a service account.
    key_names: HashMap<String, String>,
    /// Uses of each key value not yet reported (Unix seconds, reported from), see `usage.rs`.
    pending_uses: HashMap<String, Vec<(i64, std::time::Instant)>>,
    /// The behaviour switches in force.
    switches: Switches,
    /// Workload identity federation: the trusted issuer, used `jti`s, issued tokens.
    federation: federation::Trust,
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
    /// `http://127.0.0.1:PORT`, to use as a provider's `base_url`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap()
    }
}
