//! Workload identity federation (providers.md, "Workload identity federation (keyless)"): the
//! exchange of a JWT the mount's issuer signed for a short-lived provider access token, one
//! request shape per provider type. No storage here: the caller signs the assertion and keeps
//! the token.
//!
//! - OpenAI: `POST https://auth.openai.com/oauth/token`, JSON, RFC 8693 token exchange with
//!   `identity_provider_id` and `service_account_id`.
//! - Anthropic: `POST /v1/oauth/token`, JSON, RFC 7523 `jwt-bearer` with `federation_rule_id`,
//!   `organization_id`, `service_account_id` and, when the rule has several workspaces,
//!   `workspace_id`.
//! - OpenRouter: `POST /api/v1/oauth/token`, form-encoded, RFC 8693 with `federation_policy_id`.
//!
//! All answer an RFC 6749 token response (`access_token`, `token_type`, `expires_in`). A refusal
//! (400/401/403: an assertion or rule the provider does not accept) is `Rejected`, which callers
//! report as `bad_key`; 408/429/5xx and no answer are `Unavailable` (`provider_unavailable`).
//! Messages name the status and the OAuth `error` code, never the assertion or a token.

use serde_json::{json, Value};

use super::classify::{clean_token, is_transient_status};
use super::registry::federation;
use super::{ProviderConfig, ProviderError, ProviderType, Providers};
use crate::secret::SecretValue;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// OpenAI's token endpoint is on its own host, not the API's.
const OPENAI_TOKEN_URL: &str = "https://auth.openai.com/oauth/token";
/// Longest access token accepted from a provider.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// The longest life an access token is believed to have (providers give minutes).
const MAX_EXPIRES_IN: i64 = 24 * 3_600;

/// A provider's ids a federated key names (which ones depends on the type, see
/// [`required_ids`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FederationIds {
    /// OpenAI: the workload identity provider configured for this issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_provider_id: Option<String>,
    /// OpenAI and Anthropic: the service account the token acts as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<String>,
    /// Anthropic: the federation rule (`fdrl_...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub federation_rule_id: Option<String>,
    /// Anthropic: the organization (UUID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Anthropic, optional: the workspace (`wrkspc_...` or `default`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// OpenRouter: the federation policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub federation_policy_id: Option<String>,
}

/// Every id field's name, for parsing and rendering.
pub const FEDERATION_ID_FIELDS: [&str; 6] = [
    "identity_provider_id",
    "service_account_id",
    "federation_rule_id",
    "organization_id",
    "workspace_id",
    "federation_policy_id",
];

impl FederationIds {
    /// The id named `field` (one of [`FEDERATION_ID_FIELDS`]).
    pub fn get(&self, field: &str) -> Option<&str> {
        match field {
            "identity_provider_id" => self.identity_provider_id.as_deref(),
            "service_account_id" => self.service_account_id.as_deref(),
            "federation_rule_id" => self.federation_rule_id.as_deref(),
            "organization_id" => self.organization_id.as_deref(),
            "workspace_id" => self.workspace_id.as_deref(),
            "federation_policy_id" => self.federation_policy_id.as_deref(),
            _ => None,
        }
    }

    /// Sets the id named `field`.
    pub fn set(&mut self, field: &str, value: Option<String>) {
        let slot = match field {
            "identity_provider_id" => &mut self.identity_provider_id,
            "service_account_id" => &mut self.service_account_id,
            "federation_rule_id" => &mut self.federation_rule_id,
            "organization_id" => &mut self.organization_id,
            "workspace_id" => &mut self.workspace_id,
            "federation_policy_id" => &mut self.federation_policy_id,
            _ => return,
        };
        *slot = value;
    }

    /// Checks that `kind` supports federation and every id it needs is there (and no other):
    /// a message naming the field.
    pub fn check(&self, kind: ProviderType) -> Result<(), String> {
        let (required, optional) = required_ids(kind).ok_or_else(|| {
            format!("federated keys are supported for openai, anthropic and openrouter providers, not {kind}")
        })?;
        for field in required {
            if self.get(field).is_none() {
                return Err(format!("{field} is required for a federated {kind} key"));
            }
        }
        for field in FEDERATION_ID_FIELDS {
            if self.get(field).is_some() && !required.contains(&field) && !optional.contains(&field)
            {
                return Err(format!("{field} does not apply to a federated {kind} key"));
            }
        }
        Ok(())
    }
}

/// How the request body of an exchange is shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// JSON, RFC 8693 token exchange (`subject_token`).
    JsonTokenExchange,
    /// JSON, RFC 7523 jwt-bearer (`assertion`).
    JsonJwtBearer,
    /// Form-encoded, RFC 8693 token exchange.
    FormTokenExchange,
}

/// One provider type's exchange (the registry maps each type to one).
#[derive(Debug)]
pub(crate) struct Exchange {
    /// Ids the request must carry.
    pub required: &'static [&'static str],
    /// Ids it may carry.
    pub optional: &'static [&'static str],
    /// The endpoint relative to a configured `base_url`.
    pub path: &'static str,
    /// The documented endpoint when `base_url` is the default, if not relative to it.
    pub default_url: Option<&'static str>,
    /// The body's shape.
    pub style: Style,
}

/// OpenAI: `https://auth.openai.com/oauth/token`, JSON token exchange.
pub(crate) const OPENAI: Exchange = Exchange {
    required: &["identity_provider_id", "service_account_id"],
    optional: &[],
    path: "/oauth/token",
    default_url: Some(OPENAI_TOKEN_URL),
    style: Style::JsonTokenExchange,
};
/// Anthropic: `/v1/oauth/token`, JSON jwt-bearer.
pub(crate) const ANTHROPIC: Exchange = Exchange {
    required: &[
        "federation_rule_id",
        "organization_id",
        "service_account_id",
    ],
    optional: &["workspace_id"],
    path: "/v1/oauth/token",
    default_url: None,
    style: Style::JsonJwtBearer,
};
/// OpenRouter: `/api/v1/oauth/token`, form-encoded token exchange.
pub(crate) const OPENROUTER: Exchange = Exchange {
    required: &["federation_policy_id"],
    optional: &[],
    path: "/api/v1/oauth/token",
    default_url: None,
    style: Style::FormTokenExchange,
};

/// The ids a type's exchange needs, and those it may take; `None` for types without federation.
pub fn required_ids(
    kind: ProviderType,
) -> Option<(&'static [&'static str], &'static [&'static str])> {
    federation(kind).map(|e| (e.required, e.optional))
}

/// Where `config` exchanges tokens: its `token_url`, else the documented endpoint (OpenAI's
/// own host for the default API; relative to a configured `base_url` otherwise, which is how
/// tests reach a local fake).
pub fn token_url(config: &ProviderConfig) -> Option<String> {
    let exchange = federation(config.kind)?;
    if let Some(url) = &config.token_url {
        return Some(url.clone());
    }
    match (exchange.default_url, &config.base_url) {
        (Some(url), None) => Some(url.to_string()),
        _ => Some(format!("{}{}", config.effective_base_url()?, exchange.path)),
    }
}

/// A provider access token and how long it lives.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The token (a bearer credential; `Debug` redacts it).
    pub value: SecretValue,
    /// Seconds until it expires, as the provider said.
    pub expires_in: i64,
}

impl Providers {
    /// Exchanges `assertion` (a JWT the mount's issuer signed) at `config`'s token endpoint for
    /// an access token. One attempt: the caller's cache and single flight decide when to ask
    /// again, and a second attempt would need a fresh assertion anyway (providers may refuse a
    /// reused `jti`).
    pub async fn exchange_federated(
        &self,
        config: &ProviderConfig,
        ids: &FederationIds,
        assertion: &str,
    ) -> Result<AccessToken, ProviderError> {
        ids.check(config.kind).map_err(ProviderError::Unsupported)?;
        let url = token_url(config).ok_or_else(|| {
            ProviderError::Unsupported(format!("{} has no token endpoint", config.kind))
        })?;
        let style = federation(config.kind).map(|e| e.style);
        let some = |v: &Option<String>| v.clone().unwrap_or_default();
        let request = self.client.post(&url).timeout(config.timeout());
        let request = match style {
            Some(Style::JsonTokenExchange) => request.json(&json!({
                "grant_type": TOKEN_EXCHANGE,
                "subject_token_type": JWT_TOKEN_TYPE,
                "subject_token": assertion,
                "identity_provider_id": some(&ids.identity_provider_id),
                "service_account_id": some(&ids.service_account_id),
            })),
            Some(Style::JsonJwtBearer) => {
                let mut body = json!({
                    "grant_type": JWT_BEARER,
                    "assertion": assertion,
                    "federation_rule_id": some(&ids.federation_rule_id),
                    "organization_id": some(&ids.organization_id),
                    "service_account_id": some(&ids.service_account_id),
                });
                if let Some(w) = &ids.workspace_id {
                    body["workspace_id"] = json!(w);
                }
                request.json(&body)
            }
            _ => request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("grant_type", TOKEN_EXCHANGE)
                        .append_pair("subject_token_type", JWT_TOKEN_TYPE)
                        .append_pair("subject_token", assertion)
                        .append_pair(
                            "federation_policy_id",
                            ids.federation_policy_id.as_deref().unwrap_or_default(),
                        )
                        .finish(),
                ),
        };
        let reply = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let detail = if e.is_timeout() {
                    format!("no answer within {:?}", config.timeout())
                } else if e.is_connect() {
                    "cannot connect to the token endpoint".to_string()
                } else {
                    "the token request failed".to_string()
                };
                return Err(ProviderError::Unavailable {
                    status: None,
                    detail,
                });
            }
        };
        let status = reply.status().as_u16();
        let body: Option<Value> = reply.bytes().await.ok().and_then(|b| {
            (b.len() <= 256 * 1024)
                .then(|| serde_json::from_slice(&b).ok())
                .flatten()
        });
        read_answer(status, body, assertion)
    }
}

/// Reads a token endpoint's answer.
fn read_answer(
    status: u16,
    body: Option<Value>,
    assertion: &str,
) -> Result<AccessToken, ProviderError> {
    // The OAuth error code (`invalid_grant`), or a provider's nested `error.type`: a clean
    // token only, never a description (which might quote what was sent).
    let code = body.as_ref().and_then(|b| match b.get("error") {
        Some(Value::String(s)) => clean_token(s),
        Some(Value::Object(o)) => o.get("type").and_then(Value::as_str).and_then(clean_token),
        _ => None,
    });
    let detail = |what: &str| match &code {
        Some(c) => format!("{what} ({c})"),
        None => what.to_string(),
    };
    if is_transient_status(status) {
        return Err(ProviderError::Unavailable {
            status: Some(status),
            detail: detail(&format!("token endpoint answered HTTP {status}")),
        });
    }
    if !(200..300).contains(&status) {
        return Err(ProviderError::Rejected {
            status,
            detail: detail("the provider refused the signed assertion"),
        });
    }
    let body = body.ok_or_else(|| ProviderError::Protocol("token response is not JSON".into()))?;
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN && *t != assertion)
        .ok_or_else(|| ProviderError::Protocol("token response has no access_token".into()))?;
    let expires_in = body
        .get("expires_in")
        .and_then(Value::as_i64)
        .filter(|s| *s > 0)
        .ok_or_else(|| ProviderError::Protocol("token response has no positive expires_in".into()))?
        .min(MAX_EXPIRES_IN);
    Ok(AccessToken {
        value: SecretValue::new(token.to_string()),
        expires_in,
    })
}
