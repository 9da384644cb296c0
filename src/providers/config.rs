//! Stored provider settings, their validation, and what they allow.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::registry::provider;
use super::ProviderType;
use crate::secret::{validate_key_value, SecretValue};

/// Azure OpenAI `api-version` used when none is configured (GA data-plane version).
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// Probe path for `openai_compatible` when `verify_path` is not set.
pub const DEFAULT_VERIFY_PATH: &str = "/v1/models";

/// Timeout of each provider call when none is configured (api.md: 10s).
pub const DEFAULT_TIMEOUT_SECS: i64 = 10;
/// Longest timeout of a provider call, in seconds (the shortest is 1).
pub const MAX_TIMEOUT_SECS: i64 = 300;
/// Longest `max_key_lifetime`, in seconds: OpenAI's longest `expires_in_seconds` (365 days).
pub const MAX_KEY_LIFETIME_SECS: i64 = 31_536_000;
/// Longest `project_id`.
pub const MAX_PROJECT_ID_LEN: usize = 128;
/// Longest `api_version`.
pub const MAX_API_VERSION_LEN: usize = 40;
/// Longest `verify_path`.
pub const MAX_VERIFY_PATH_LEN: usize = 512;

/// Stored provider settings (api.md `providers/:name`), persisted as JSON in the engine's
/// (Vault-encrypted) storage. `admin_key` is a [`SecretValue`], so `Debug` never shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// Which provider this is.
    pub kind: ProviderType,
    /// Scheme, host and optional path prefix of the API, without the API version; `None` means
    /// [`ProviderType::default_base_url`].
    #[serde(default)]
    pub base_url: Option<String>,
    /// Credential that can create or revoke keys (OpenAI admin key, Anthropic admin key,
    /// OpenRouter management key). Write-only in the API.
    #[serde(default)]
    pub admin_key: Option<SecretValue>,
    /// OpenAI project in which keys are created and deleted.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Azure OpenAI `api-version`; `None` means [`DEFAULT_AZURE_API_VERSION`].
    #[serde(default)]
    pub api_version: Option<String>,
    /// `openai_compatible` probe path; `None` means [`DEFAULT_VERIFY_PATH`].
    #[serde(default)]
    pub verify_path: Option<String>,
    /// Timeout of each provider call, in seconds (1 to 300, default 10).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: i64,
    /// The account the engine created (or is creating) at the provider to hold the keys it
    /// creates, for types whose keys live in one ([`super::Features::account`]).
    #[serde(default)]
    pub engine_account: Option<EngineAccount>,
    /// The organization's or project's key-lifetime policy at the provider, in seconds, as the
    /// operator states it (`max_key_lifetime`): keys the engine creates there ask for no
    /// longer a life, and keys whose periods need longer are refused at write time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_key_lifetime_secs: Option<i64>,
    /// The token endpoint federated keys exchange at; `None` means the documented one
    /// (`federation::token_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
}

/// The engine's own account at a provider (an OpenAI service account), created once per
/// configuration. Its unique name is stored before the provider is asked to create it, so an
/// account whose creation answer was lost is found again by name rather than created twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineAccount {
    /// Its unique name at the provider.
    pub name: String,
    /// Its id there, once created and recorded.
    #[serde(default)]
    pub id: Option<String>,
    /// Its role there (OpenAI `member`), recorded once the account can hold keys that call the
    /// API. `None` with an id: recorded by an earlier build, which never gave the account a
    /// role; the engine reads the account again before using it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Where it was made ([`ProviderConfig::account_scope`]); a record for another scope (after
    /// `base_url` or `project_id` changed) is not used.
    pub scope: String,
}

fn default_timeout_secs() -> i64 {
    DEFAULT_TIMEOUT_SECS
}

/// Which operations a provider supports with the configured credentials (api.md `providers/`
/// read, `capabilities`).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Capabilities {
    /// The engine can test keys (`test/`).
    pub test: bool,
    /// The engine can have the provider create a key (`stage/` without `value`).
    pub create: bool,
    /// The engine can revoke or deactivate a key at the provider when its grace ends.
    pub revoke: bool,
}

impl ProviderConfig {
    /// A configuration of `kind` with every optional setting unset and the default timeout.
    pub fn new(kind: ProviderType) -> Self {
        Self {
            kind,
            base_url: None,
            admin_key: None,
            project_id: None,
            api_version: None,
            verify_path: None,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            engine_account: None,
            max_key_lifetime_secs: None,
            token_url: None,
        }
    }

    /// Where an account the engine creates lives: the API origin and the project.
    pub fn account_scope(&self) -> String {
        format!(
            "{} {}",
            self.effective_base_url().unwrap_or_default(),
            self.project_id.as_deref().unwrap_or_default()
        )
    }

    /// The engine account recorded for the current scope, if any.
    pub fn current_engine_account(&self) -> Option<&EngineAccount> {
        let scope = self.account_scope();
        self.engine_account.as_ref().filter(|a| a.scope == scope)
    }

    /// Checks the settings. The error is a message for a 400 that names the field; it never
    /// contains the admin key (nor the base URL, which a user may have pasted a key into).
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_TIMEOUT_SECS).contains(&self.timeout_secs) {
            return Err(format!(
                "timeout must be between 1s and {MAX_TIMEOUT_SECS}s, got {}s",
                self.timeout_secs
            ));
        }
        match &self.base_url {
            Some(url) => validate_base_url(self.kind, url)?,
            None if self.kind.default_base_url().is_none() => {
                return Err(format!(
                    "base_url is required for provider type {} (for example {})",
                    self.kind,
                    provider(self.kind).example_base_url()
                ))
            }
            None => {}
        }
        if let Some(url) = &self.token_url {
            validate_base_url(self.kind, url)
                .map_err(|e| e.replacen("base_url", "token_url", 1))?;
        }
        if let Some(key) = &self.admin_key {
            validate_key_value(key.expose()).map_err(|e| format!("admin_key is invalid: {e}"))?;
        }
        if let Some(project) = &self.project_id {
            if project.is_empty()
                || project.len() > MAX_PROJECT_ID_LEN
                || !project.chars().all(is_id_char)
            {
                return Err(
                    "project_id must be 1 to 128 letters, digits, '_', '-' or '.' \
                            (for example proj_abc123)"
                        .to_string(),
                );
            }
        }
        if let Some(version) = &self.api_version {
            let ok = !version.is_empty()
                && version.len() <= MAX_API_VERSION_LEN
                && version
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !ok {
                return Err(format!(
                    "api_version must look like {DEFAULT_AZURE_API_VERSION} or 2025-04-01-preview"
                ));
            }
        }
        if let Some(path) = &self.verify_path {
            let ok = path.starts_with('/')
                && path.len() <= MAX_VERIFY_PATH_LEN
                && !path.contains("..")
                && path
                    .chars()
                    .all(|c| c.is_ascii_graphic() && c != '?' && c != '#');
            if !ok {
                return Err(
                    "verify_path must be a path starting with '/', without spaces, \
                            '?', '#' or '..' (for example /v1/models)"
                        .to_string(),
                );
            }
        }
        Ok(())
    }

    /// What this provider can do with these settings (providers.md "Which providers the engine
    /// supports"): every type can test; a type's admin operations (OpenAI: create and revoke,
    /// with `admin_key` and `project_id`; OpenRouter: create and revoke with `admin_key`;
    /// Anthropic: revoke, that is deactivate, with `admin_key`) once what they need is set.
    pub fn capabilities(&self) -> Capabilities {
        let p = provider(self.kind);
        let ready = p.admin_ready(self);
        let features = p.features();
        Capabilities {
            test: self.effective_base_url().is_some(),
            create: ready && features.create,
            revoke: ready && features.revoke,
        }
    }

    /// Why this configuration cannot create keys (a message for a 400).
    pub fn why_cannot_create(&self) -> String {
        why_cannot_create(self)
    }

    /// Whether keys can be looked up by id with these settings (what revoking needs).
    pub fn can_look_up(&self) -> bool {
        let p = provider(self.kind);
        p.admin_ready(self) && p.features().lookup
    }

    /// Settings that are set but mean nothing for this type, for the caller's warnings.
    pub fn unused_fields(&self) -> Vec<&'static str> {
        let used = provider(self.kind).settings();
        let mut unused = Vec::new();
        if self.project_id.is_some() && !used.project_id {
            unused.push("project_id");
        }
        if self.api_version.is_some() && !used.api_version {
            unused.push("api_version");
        }
        if self.verify_path.is_some() && !used.verify_path {
            unused.push("verify_path");
        }
        if self.admin_key.is_some() && !used.admin_key {
            unused.push("admin_key");
        }
        unused
    }

    /// `base_url` without trailing `/`, or the type's default; `None` when neither exists.
    pub fn effective_base_url(&self) -> Option<String> {
        match &self.base_url {
            Some(url) => Some(url.trim_end_matches('/').to_string()),
            None => self.kind.default_base_url().map(str::to_string),
        }
    }

    /// The per-call timeout (clamped to 1..=300 s).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.clamp(1, MAX_TIMEOUT_SECS) as u64)
    }

    /// The Azure `api-version` to send.
    pub fn azure_api_version(&self) -> &str {
        self.api_version
            .as_deref()
            .unwrap_or(DEFAULT_AZURE_API_VERSION)
    }

    /// The `openai_compatible` probe path to use.
    pub fn effective_verify_path(&self) -> &str {
        self.verify_path.as_deref().unwrap_or(DEFAULT_VERIFY_PATH)
    }
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'
}

/// Checks a provider key id before it goes into a URL path (no traversal, no separators).
pub(super) fn check_provider_key_id(id: &str) -> Result<(), String> {
    if id.is_empty()
        || id.len() > 256
        || id.chars().all(|c| c == '.')
        || !id.chars().all(is_id_char)
    {
        return Err(
            "provider_key_id must be 1 to 256 letters, digits, '_', '-' or '.'".to_string(),
        );
    }
    Ok(())
}

fn validate_base_url(kind: ProviderType, raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw.trim_end_matches('/'))
        .map_err(|e| format!("base_url is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(
            "base_url must start with https:// (or http:// for a loopback host)".to_string(),
        );
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("base_url must name a host".to_string());
    }
    super::destination::check(&url)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("base_url must not contain credentials (user:password@)".to_string());
    }
    if url.query().is_some() || raw.contains('?') {
        return Err("base_url must not contain a query string ('?...')".to_string());
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err("base_url must not contain a fragment ('#...')".to_string());
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("base_url must not contain spaces or control characters".to_string());
    }
    let last = url
        .path_segments()
        .and_then(|mut s| s.rfind(|seg| !seg.is_empty()));
    if let (Some(own), Some(last)) = (provider(kind).own_path_segment(), last) {
        if last.eq_ignore_ascii_case(own) {
            return Err(format!(
                "base_url must not end with /{own}: the engine appends the provider's paths \
                 (give the origin, for example {})",
                provider(kind).example_base_url()
            ));
        }
    }
    Ok(())
}

/// Why `create` is unavailable for this configuration (a 400 message).
pub(super) fn why_cannot_create(cfg: &ProviderConfig) -> String {
    why_cannot(
        cfg,
        provider(cfg.kind).features().create,
        "creates",
        "create",
    )
}

/// Why `revoke` is unavailable for this configuration (a 400 message).
pub(super) fn why_cannot_revoke(cfg: &ProviderConfig) -> String {
    why_cannot(
        cfg,
        provider(cfg.kind).features().revoke,
        "revokes",
        "revoke",
    )
}

/// Why looking a key up is unavailable for this configuration (a 400 message).
pub(super) fn why_cannot_look_up(cfg: &ProviderConfig) -> String {
    why_cannot(cfg, provider(cfg.kind).features().lookup, "looks", "look")
}

fn why_cannot(cfg: &ProviderConfig, possible: bool, does: &str, verb: &str) -> String {
    let p = provider(cfg.kind);
    let object = if verb == "look" { "keys up" } else { "keys" };
    if possible {
        format!(
            "provider type {} {does} {object} only with {} set",
            p.name(),
            p.admin_needs()
        )
    } else if verb == "create" {
        format!(
            "provider type {} cannot create keys through its API: create the key with the \
             provider and stage it with value",
            p.name()
        )
    } else {
        format!(
            "provider type {} cannot {verb} {object} through its API",
            p.name()
        )
    }
}
