//! OpenAI: probe `GET /v1/models` (Bearer); create keys in the engine's one service account of
//! the configured project (`openai_accounts.rs`), or, without one, a service account with its
//! API key (the previous release's way); revoke by deleting the project API key (or the
//! previous release's one-key service account); look one key up by id for its
//! `redacted_value`.

mod listing;
mod lookup;

use serde_json::{json, Value};

use super::classify::{
    admin_error, admin_error_expiry, admin_failure, common, create_may_retry,
    is_provider_not_found, token, Verdict,
};
use super::http::{Exchange, HttpClient, Reply, Step};
use super::openai_accounts;
use super::ownership::{timestamp, KeyRecord};
use super::provider::{AdminCall, CreateRequest, Features, Provider, Settings};
use super::{AccountState, CreatedKey, KeyUsage, ProviderConfig, ProviderError};
use listing::find_by_name;
use lookup::lookup;

/// OpenAI: key tests; creating, deleting and looking up project keys with an admin key.
pub(crate) struct OpenAi;

#[async_trait::async_trait]
impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://api.openai.com")
    }

    fn own_path_segment(&self) -> Option<&'static str> {
        Some("v1")
    }

    fn settings(&self) -> Settings {
        Settings {
            admin_key: true,
            project_id: true,
            ..Settings::default()
        }
    }

    fn features(&self) -> Features {
        Features {
            create: true,
            revoke: true,
            lookup: true,
            last_used: true,
            expiry: true,
            max_expiry_secs: Some(MAX_EXPIRES_IN_SECONDS),
            update_expiry: true,
            account: true,
        }
    }

    fn admin_needs(&self) -> &'static str {
        "admin_key and project_id"
    }

    fn admin_ready(&self, cfg: &ProviderConfig) -> bool {
        cfg.admin_key.is_some() && cfg.project_id.is_some()
    }

    fn probe(
        &self,
        c: &reqwest::Client,
        _cfg: &ProviderConfig,
        base: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        probe(c, base, key)
    }

    fn classify(&self, reply: &Reply) -> Verdict {
        classify_test(reply)
    }

    async fn create(
        &self,
        call: &AdminCall<'_>,
        req: &CreateRequest<'_>,
    ) -> Result<CreatedKey, ProviderError> {
        match req.account {
            Some(account) => openai_accounts::create_key(call, account, req).await,
            None => create(&call.http, &call.base, call.admin, call.project(), req).await,
        }
    }

    async fn revoke(&self, call: &AdminCall<'_>, id: &str) -> Result<(), ProviderError> {
        openai_accounts::revoke(call, id).await
    }

    async fn update_expiry(
        &self,
        call: &AdminCall<'_>,
        id: &str,
        expires_in_secs: i64,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, ProviderError> {
        openai_accounts::update_expiry(call, id, expires_in_secs).await
    }

    async fn find_account(
        &self,
        call: &AdminCall<'_>,
        name: &str,
    ) -> Result<Option<AccountState>, ProviderError> {
        openai_accounts::find(call, name).await
    }

    async fn create_account(
        &self,
        call: &AdminCall<'_>,
        name: &str,
    ) -> Result<AccountState, ProviderError> {
        openai_accounts::create(call, name).await
    }

    async fn get_account(
        &self,
        call: &AdminCall<'_>,
        id: &str,
    ) -> Result<Option<AccountState>, ProviderError> {
        openai_accounts::get(call, id).await
    }

    async fn grant_account_role(
        &self,
        call: &AdminCall<'_>,
        id: &str,
    ) -> Result<AccountState, ProviderError> {
        openai_accounts::grant_role(call, id).await
    }

    async fn lookup(
        &self,
        call: &AdminCall<'_>,
        id: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        lookup(&call.http, &call.base, call.admin, call.project(), id).await
    }

    async fn last_used(&self, call: &AdminCall<'_>, id: &str) -> Result<KeyUsage, ProviderError> {
        match self.lookup(call, id).await? {
            Some(record) => Ok(KeyUsage::LastUsed(record.last_used_at)),
            None => Err(super::usage::not_found()),
        }
    }

    async fn find_by_name(
        &self,
        call: &AdminCall<'_>,
        name: &str,
    ) -> Result<Vec<String>, ProviderError> {
        find_by_name(&call.http, &call.base, call.admin, call.project(), name).await
    }

    async fn list_named(
        &self,
        call: &AdminCall<'_>,
        prefix: &str,
        account: Option<&str>,
    ) -> Result<Vec<(String, String)>, ProviderError> {
        super::engine_keys::openai(call, prefix, account).await
    }
}
use crate::secret::{validate_key_value, SecretValue};

/// `error.code` values of a 429 that mean "out of money", not "too fast" (providers.md).
pub(crate) const QUOTA_CODES: [&str; 5] = [
    "insufficient_quota",
    "credit_balance_exhausted",
    "organization_spend_limit_exceeded",
    "project_spend_limit_exceeded",
    "organization_usage_limit_exceeded",
];

/// The key-test request.
pub(super) fn probe(c: &reqwest::Client, base: &str, key: &str) -> reqwest::RequestBuilder {
    c.get(format!("{base}/v1/models")).bearer_auth(key)
}

/// Classifies a `GET /v1/models` answer.
pub(crate) fn classify_test(reply: &Reply) -> Verdict {
    classify_openai_shaped(reply, true)
}

/// The classification shared by OpenAI-shaped APIs (`{"error": {"type", "code"}}`): a 429 with
/// `type: insufficient_quota` or a quota `code` is unfunded, not a rate limit. With
/// `require_json`, a 2xx must look like a JSON object (a captive portal's HTML 200 is not a
/// pass).
pub(crate) fn classify_openai_shaped(reply: &Reply, require_json: bool) -> Verdict {
    let json = reply.json();
    let tok = token(json.as_ref(), &["/error/code", "/error/type"]);
    if reply.status == 429 && is_quota_error(json.as_ref()) {
        return Verdict::unfunded(429, "out of quota or credit", tok.as_deref());
    }
    if (200..300).contains(&reply.status) && require_json && !reply.looks_like_json_object() {
        return Verdict::unexpected_body(reply.status);
    }
    common(reply, tok.as_deref())
}

/// Whether an OpenAI-shaped error body says the quota or credit is exhausted.
pub(crate) fn is_quota_error(json: Option<&Value>) -> bool {
    let field = |p: &str| json.and_then(|j| j.pointer(p)).and_then(Value::as_str);
    field("/error/type") == Some("insufficient_quota")
        || field("/error/code").is_some_and(|c| QUOTA_CODES.contains(&c))
}

/// The longest `expires_in_seconds` OpenAI accepts (providers.md: 1 to 31,536,000).
pub(crate) const MAX_EXPIRES_IN_SECONDS: i64 = 31_536_000;

/// Creates a service account named `req.name` in `project` (with `expires_in_seconds` when
/// asked); returns its API key.
pub(super) async fn create(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    project: &str,
    req: &CreateRequest<'_>,
) -> Result<CreatedKey, ProviderError> {
    let url = format!("{base}/v1/organization/projects/{project}/service_accounts");
    let mut body = json!({ "name": req.name });
    if let Some(secs) = req.expires_in_secs {
        body["expires_in_seconds"] = json!(secs.clamp(1, MAX_EXPIRES_IN_SECONDS));
    }
    let (result, _) = http
        .exchange(
            |c| c.post(&url).bearer_auth(admin).json(&body),
            |ex| Step::judged(create_may_retry(&ex), interpret_create(ex)),
        )
        .await;
    result
}

/// Reads a create answer: `api_key.value` and `api_key.id` of the new service account.
pub(crate) fn interpret_create(ex: Exchange) -> Result<CreatedKey, ProviderError> {
    let reply = ex.map_err(|f| admin_failure(&f))?;
    let json = reply.json();
    if !(200..300).contains(&reply.status) {
        let tok = token(json.as_ref(), &["/error/code", "/error/type"]);
        return Err(admin_error_expiry(&reply, tok.as_deref(), "project"));
    }
    let field = |p: &str| {
        json.as_ref()
            .and_then(|j| j.pointer(p))
            .and_then(Value::as_str)
    };
    let account = field("/id").unwrap_or("unknown");
    match (field("/api_key/value"), field("/api_key/id")) {
        (Some(value), Some(id)) if validate_key_value(value).is_ok() && !id.is_empty() => {
            Ok(CreatedKey {
                value: SecretValue::new(value.to_string()),
                provider_key_id: id.to_string(),
                expires_at: json
                    .as_ref()
                    .and_then(|j| timestamp(j.pointer("/api_key/expires_at"))),
            })
        }
        _ => Err(ProviderError::Protocol(format!(
            "the service account ({account}) was created without a usable api_key.value and \
             api_key.id; delete it in the OpenAI dashboard"
        ))),
    }
}

fn is_id(id: &str) -> bool {
    super::config::check_provider_key_id(id).is_ok()
}

/// Reads a delete answer: 2xx with `deleted` not false, or the provider's own 404.
pub(crate) fn interpret_revoke(ex: Exchange) -> Result<(), ProviderError> {
    let reply = ex.map_err(|f| admin_failure(&f))?;
    let json = reply.json();
    if (200..300).contains(&reply.status) {
        if json.as_ref().and_then(|j| j.get("deleted")) == Some(&Value::Bool(false)) {
            return Err(ProviderError::Protocol(
                "the key was not deleted".to_string(),
            ));
        }
        return Ok(());
    }
    if is_provider_not_found(&reply) {
        return Ok(());
    }
    let tok = token(json.as_ref(), &["/error/code", "/error/type"]);
    Err(admin_error(&reply, tok.as_deref(), "key"))
}
