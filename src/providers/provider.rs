//! The one interface every provider type implements ([`Provider`]), and what an admin call
//! carries ([`AdminCall`]).
//!
//! A provider file holds its request shapes, the pure reading of its answers, and one
//! implementation of [`Provider`]; the registry (`registry.rs`) maps each [`ProviderType`] to
//! it. Everything else (the shared client and retries in `http.rs`, logging and redaction in
//! [`super::Providers`]) is common, so adding a provider is adding a file and a registry line.
//! Operations a type cannot do keep the default methods, which refuse with
//! [`ProviderError::Unsupported`].

use async_trait::async_trait;

use super::classify::Verdict;
use super::http::{HttpClient, Reply};
use super::ownership::KeyRecord;
use super::{AccountState, CreatedKey, ProviderConfig, ProviderError};

/// The optional settings a provider type reads (others are reported as unused).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `admin_key` (OpenAI admin key, Anthropic admin key, OpenRouter management key).
    pub admin_key: bool,
    /// `project_id` (OpenAI).
    pub project_id: bool,
    /// `api_version` (Azure OpenAI).
    pub api_version: bool,
    /// `verify_path` (OpenAI-compatible servers).
    pub verify_path: bool,
}

/// What a provider type can do through its API at most, given every credential it needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// Create keys (`stage/` without `value`).
    pub create: bool,
    /// Revoke or deactivate keys.
    pub revoke: bool,
    /// Look one key up by id (for ownership checks).
    pub lookup: bool,
    /// Say when a key was last used.
    pub last_used: bool,
    /// Give a created key an expiry at the provider.
    pub expiry: bool,
    /// The longest provider-side lifetime a created key may get, in seconds, if limited.
    pub max_expiry_secs: Option<i64>,
    /// Change an existing key's provider-side expiry (OpenAI's key update,
    /// `expires_in_seconds`): the engine moves a retired key's expiry to its grace end.
    pub update_expiry: bool,
    /// Created keys live inside one account the engine creates once per configuration (an
    /// OpenAI service account), whose id the configuration records.
    pub account: bool,
}

/// What the engine asks a provider to create.
#[derive(Clone, Copy, Debug)]
pub struct CreateRequest<'a> {
    /// The unique name the key is created under (no secret; found again by it after a crash).
    pub name: &'a str,
    /// The provider-side lifetime to give the key, in seconds, where the provider has one.
    pub expires_in_secs: Option<i64>,
    /// The engine's account to create the key in (see [`Features::account`]); without it a
    /// type with accounts creates one account for this key alone (the previous release's way).
    pub account: Option<&'a str>,
}

/// Everything one admin call needs: the shared client with the configured timeout, the base
/// URL, the admin key and the configuration (for provider-specific settings).
pub(crate) struct AdminCall<'a> {
    /// The client with the configuration's timeout.
    pub http: HttpClient<'a>,
    /// `base_url` without trailing `/`, or the type's default.
    pub base: String,
    /// The admin key (never logged).
    pub admin: &'a str,
    /// The provider configuration.
    pub cfg: &'a ProviderConfig,
}

impl AdminCall<'_> {
    /// The OpenAI project (validated: set whenever an OpenAI admin call is possible).
    pub(super) fn project(&self) -> &str {
        self.cfg.project_id.as_deref().unwrap_or_default()
    }
}

fn unsupported<T>(kind: &str, what: &str) -> Result<T, ProviderError> {
    Err(ProviderError::Unsupported(format!(
        "provider type {kind} cannot {what} through its API"
    )))
}

/// One provider type: its key test, its admin operations, and what it supports.
#[async_trait]
pub(crate) trait Provider: Send + Sync {
    /// The API spelling (`openai`, `azure_openai`, ...).
    fn name(&self) -> &'static str;

    /// The provider's public API origin, or `None` where `base_url` is required.
    fn default_base_url(&self) -> Option<&'static str> {
        None
    }

    /// An example `base_url`, for messages.
    fn example_base_url(&self) -> &'static str {
        self.default_base_url().unwrap_or("http://localhost:8000")
    }

    /// The first path segment of the provider's own paths (`v1`), which `base_url` must not end
    /// with; `None` when the paths are the operator's.
    fn own_path_segment(&self) -> Option<&'static str> {
        None
    }

    /// The optional settings this type reads.
    fn settings(&self) -> Settings {
        Settings::default()
    }

    /// What this type can do at most.
    fn features(&self) -> Features {
        Features::default()
    }

    /// What the admin operations need set (for messages): `admin_key`, or more.
    fn admin_needs(&self) -> &'static str {
        "admin_key"
    }

    /// Whether `cfg` has what the admin operations need.
    fn admin_ready(&self, cfg: &ProviderConfig) -> bool {
        cfg.admin_key.is_some()
    }

    /// The key-test request for `key`.
    fn probe(
        &self,
        c: &reqwest::Client,
        cfg: &ProviderConfig,
        base: &str,
        key: &str,
    ) -> reqwest::RequestBuilder;

    /// Classifies the key-test answer.
    fn classify(&self, reply: &Reply) -> Verdict;

    /// Creates a key; its value comes back once.
    async fn create(
        &self,
        _call: &AdminCall<'_>,
        _req: &CreateRequest<'_>,
    ) -> Result<CreatedKey, ProviderError> {
        unsupported(self.name(), "create keys")
    }

    /// Revokes (or deactivates) key `id`; a key the provider says does not exist is `Ok`.
    async fn revoke(&self, _call: &AdminCall<'_>, _id: &str) -> Result<(), ProviderError> {
        unsupported(self.name(), "revoke keys")
    }

    /// Sets key `id`'s provider-side expiry to `expires_in_secs` from now (already checked to
    /// be within the type's range); the expiry as the provider then reports it (`None` when its
    /// answer shows none). A key the provider does not know is an error.
    async fn update_expiry(
        &self,
        _call: &AdminCall<'_>,
        _id: &str,
        _expires_in_secs: i64,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, ProviderError> {
        unsupported(self.name(), "change a key's expiry")
    }

    /// Looks key `id` up (ownership hint, status, expiry); `None` when there is no such key.
    async fn lookup(
        &self,
        _call: &AdminCall<'_>,
        _id: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        unsupported(self.name(), "look keys up")
    }

    /// The ids of every key created under `name` (every list page read), for crash recovery;
    /// empty when there is none.
    /// The key `value` itself authenticates as, asked with the value as the credential (never
    /// the admin key): the provider's possession proof, where it has one. `None` when the
    /// provider does not accept the value. Types without such a call refuse with
    /// [`ProviderError::Unsupported`]: for them no id is ever proven.
    async fn identify(
        &self,
        _http: &HttpClient<'_>,
        _base: &str,
        _value: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        unsupported(self.name(), "name the key a value belongs to")
    }

    /// The id of the key created under `name`, for crash recovery; `None` when there is none.
    async fn find_by_name(
        &self,
        _call: &AdminCall<'_>,
        _name: &str,
    ) -> Result<Vec<String>, ProviderError> {
        Ok(Vec::new())
    }

    /// Every key the provider shows named with `prefix` (OpenAI: of the engine's service account
    /// `account`), as `(id, name)`, every page: what `reconcile` compares with the records.
    /// Empty for types that create no keys.
    async fn list_named(
        &self,
        _call: &AdminCall<'_>,
        _prefix: &str,
        _account: Option<&str>,
    ) -> Result<Vec<(String, String)>, ProviderError> {
        Ok(Vec::new())
    }

    /// The ids of every key whose ownership hint is `hint` (all pages), so that a possession
    /// proof comparing hints can tell whether the hint names one key only.
    async fn find_by_hint(
        &self,
        _call: &AdminCall<'_>,
        _hint: &str,
    ) -> Result<Vec<String>, ProviderError> {
        unsupported(self.name(), "list keys by their hint")
    }

    /// The engine's account named `name`, if it exists (see [`Features::account`]).
    async fn find_account(
        &self,
        _call: &AdminCall<'_>,
        _name: &str,
    ) -> Result<Option<AccountState>, ProviderError> {
        Ok(None)
    }

    /// Creates the engine's account named `name`, with no key in it.
    async fn create_account(
        &self,
        _call: &AdminCall<'_>,
        _name: &str,
    ) -> Result<AccountState, ProviderError> {
        unsupported(self.name(), "create accounts")
    }

    /// The engine's account `id` as the provider shows it; `None` when it is gone.
    async fn get_account(
        &self,
        _call: &AdminCall<'_>,
        _id: &str,
    ) -> Result<Option<AccountState>, ProviderError> {
        unsupported(self.name(), "read accounts")
    }

    /// Gives the engine's account `id` the role its keys need to call the API.
    async fn grant_account_role(
        &self,
        _call: &AdminCall<'_>,
        _id: &str,
    ) -> Result<AccountState, ProviderError> {
        unsupported(self.name(), "change accounts")
    }

    /// What the provider says about key `id`'s use (when it was last used, or its spend); a key
    /// it does not know is an error. Types that cannot tell refuse with
    /// [`ProviderError::Unsupported`].
    async fn last_used(
        &self,
        _call: &AdminCall<'_>,
        _id: &str,
    ) -> Result<super::KeyUsage, ProviderError> {
        unsupported(self.name(), "report when a key was last used")
    }
}
