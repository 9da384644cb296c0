//! Workload identity federation at the fake (fake_provider.rs "What it follows"; providers.md
//! "Workload identity federation (keyless)"): each provider's token endpoint, verifying the
//! presented JWT as a provider does: it fetches the issuer's discovery document and then its
//! `jwks_uri` over HTTP (from the OpenBao server, unauthenticated), and checks the signature
//! with the key named by `kid` (RS256 only), `iss` (equal to the trusted issuer and to the
//! discovery document's `issuer`), `aud`, `sub`, `exp`, `nbf`, and that a `jti` is never used
//! twice. An accepted JWT gets an access token the key-test endpoints accept until it expires.
//!
//! - OpenAI (<https://developers.openai.com/api/reference/workload-identity-federation>):
//!   `POST /oauth/token` (on `auth.openai.com`) JSON `{grant_type:
//!   "urn:ietf:params:oauth:grant-type:token-exchange", subject_token_type:
//!   "urn:ietf:params:oauth:token-type:jwt" | "...:id_token", subject_token,
//!   identity_provider_id, service_account_id}`, all required.
//! - Anthropic (<https://platform.claude.com/docs/en/manage-claude/wif-reference>):
//!   `POST /v1/oauth/token` JSON `{grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
//!   assertion, federation_rule_id, organization_id, service_account_id, workspace_id?}`; the
//!   answer's `access_token` is prefixed `sk-ant-oat01-`.
//! - OpenRouter (<https://openrouter.ai/docs/guides/overview/auth/workload-identity-federation>,
//!   `.../api-reference/oauth/exchange-a-workload-identity-token`): `POST /api/v1/oauth/token`
//!   form-encoded `{federation_policy_id, grant_type: token-exchange, subject_token,
//!   subject_token_type}`; "Access tokens live for 15 minutes at most, and never longer than the
//!   JWT that was exchanged for them."
//!
//! Every answer is the RFC 6749 §5.1 token response `{access_token, token_type: "Bearer",
//! expires_in}`; a refusal is the RFC 6749 §5.2 error `{error, error_description}` with 400
//! (`invalid_request` for a missing or wrong parameter, `invalid_grant` for a JWT that does not
//! verify or a rule that does not match), never echoing the JWT.

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use super::http::{base62, header, record, respond};
use super::{FakeProvider, Flavor, Inner, Shared};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const JWT_TYPES: [&str; 2] = [
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
];

/// The trust an organization set up at the provider.
#[derive(Default)]
pub(super) struct Trust {
    /// Trusted issuer URL.
    issuer: Option<String>,
    /// The `aud` and `sub` the rule matches.
    audience: String,
    subject: String,
    /// The ids the exchange must name, by field.
    ids: HashMap<String, String>,
    /// Life of the access tokens issued (capped by the JWT's own `exp`).
    token_life: i64,
    /// Every `jti` seen.
    seen_jti: HashSet<String>,
    /// Issued access tokens and when they expire (Unix seconds).
    tokens: HashMap<String, i64>,
    /// Exchanges answered with a token, and refusals with their reasons.
    accepted: usize,
    refusals: Vec<String>,
    /// The JWTs presented, in order (a test replays or forges them).
    presented: Vec<String>,
    /// While set, the endpoint answers 503 before looking at the JWT (an outage).
    outage: bool,
}

impl FakeProvider {
    /// Trusts `issuer` for exchanges naming `ids` with a JWT for `audience` and `subject`;
    /// access tokens live `token_life` seconds (never longer than the JWT).
    pub fn trust_issuer(
        &self,
        issuer: &str,
        audience: &str,
        subject: &str,
        ids: &[(&str, &str)],
        token_life: i64,
    ) {
        let mut s = self.lock();
        s.federation.issuer = Some(issuer.to_string());
        s.federation.audience = audience.to_string();
        s.federation.subject = subject.to_string();
        s.federation.ids = ids
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        s.federation.token_life = token_life;
    }

    /// Exchanges answered with an access token.
    pub fn exchanges(&self) -> usize {
        self.lock().federation.accepted
    }

    /// Why exchanges were refused, in order.
    pub fn exchange_refusals(&self) -> Vec<String> {
        self.lock().federation.refusals.clone()
    }

    /// The JWTs presented to the token endpoints, in order.
    pub fn presented_jwts(&self) -> Vec<String> {
        self.lock().federation.presented.clone()
    }

    /// Makes the token endpoints answer 503 (`temporarily_unavailable`) from now on, or not.
    pub fn set_exchange_outage(&self, on: bool) {
        self.lock().federation.outage = on;
    }

    /// Access tokens issued, still valid or not.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().federation.tokens.keys().cloned().collect()
    }

    /// Presents `jwt` to the OpenAI token endpoint directly (as an attacker would), returning
    /// the status and body.
    pub async fn present_openai_jwt(&self, jwt: &str, ids: &[(&str, &str)]) -> (u16, Value) {
        let mut body = json!({
            "grant_type": TOKEN_EXCHANGE,
            "subject_token_type": JWT_TYPES[0],
            "subject_token": jwt,
        });
        for (k, v) in ids {
            body[*k] = json!(v);
        }
        let r = reqwest::Client::new()
            .post(format!("{}/oauth/token", self.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// Whether `key` is an access token this fake issued that has expired.
pub(super) fn expired(st: &Inner, key: &str) -> bool {
    let now = chrono::Utc::now().timestamp();
    st.federation.tokens.get(key).is_some_and(|exp| *exp <= now)
}

fn oauth_error(error: &str, description: &str) -> Response {
    respond(
        400,
        &[],
        json!({"error": error, "error_description": description}),
    )
}

/// OpenAI's endpoint: JSON, token exchange.
pub(super) async fn openai_token(State(s): State<Shared>, uri: Uri, body: Bytes) -> Response {
    record(&s, &uri);
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return refuse(&s, "invalid_request", "body must be JSON");
    };
    let field = |k: &str| text_field(&b, k);
    if field("grant_type") != TOKEN_EXCHANGE {
        return refuse(
            &s,
            "unsupported_grant_type",
            "grant_type must be token-exchange",
        );
    }
    if !JWT_TYPES.contains(&field("subject_token_type").as_str()) {
        return refuse(&s, "invalid_request", "subject_token_type is not supported");
    }
    let ids = ["identity_provider_id", "service_account_id"].map(|k| (k, field(k)));
    exchange(&s, Flavor::OpenAi, &field("subject_token"), &ids).await
}

/// Anthropic's endpoint: JSON, jwt-bearer.
pub(super) async fn anthropic_token(State(s): State<Shared>, uri: Uri, body: Bytes) -> Response {
    record(&s, &uri);
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return refuse(&s, "invalid_request", "body must be JSON");
    };
    let field = |k: &str| text_field(&b, k);
    if field("grant_type") != JWT_BEARER {
        return refuse(
            &s,
            "unsupported_grant_type",
            "grant_type must be jwt-bearer",
        );
    }
    let ids = [
        "federation_rule_id",
        "organization_id",
        "service_account_id",
    ]
    .map(|k| (k, field(k)));
    exchange(&s, Flavor::Anthropic, &field("assertion"), &ids).await
}

/// OpenRouter's endpoint: form-encoded, token exchange.
pub(super) async fn openrouter_token(
    State(s): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&s, &uri);
    if header(&headers, "content-type") != Some("application/x-www-form-urlencoded") {
        return refuse(&s, "invalid_request", "body must be form-encoded");
    }
    let form: HashMap<String, String> = url_decode(&body);
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    if field("grant_type") != TOKEN_EXCHANGE {
        return refuse(
            &s,
            "unsupported_grant_type",
            "grant_type must be token-exchange",
        );
    }
    if !JWT_TYPES.contains(&field("subject_token_type").as_str()) {
        return refuse(&s, "invalid_request", "subject_token_type is not supported");
    }
    let ids = [("federation_policy_id", field("federation_policy_id"))];
    exchange(&s, Flavor::OpenRouter, &field("subject_token"), &ids).await
}

fn url_decode(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn refuse(s: &Shared, error: &str, why: &str) -> Response {
    s.lock().unwrap().federation.refusals.push(why.to_string());
    oauth_error(error, why)
}

/// Verifies `jwt` as the provider would and issues an access token.
async fn exchange(s: &Shared, flavor: Flavor, jwt: &str, ids: &[(&str, String)]) -> Response {
    {
        let mut st = s.lock().unwrap();
        st.federation.presented.push(jwt.to_string());
        if st.federation.outage {
            return respond(
                503,
                &[],
                json!({"error": "temporarily_unavailable", "error_description": "try again later"}),
            );
        }
    }
    let (issuer, audience, subject, want_ids, life) = {
        let st = s.lock().unwrap();
        let t = &st.federation;
        (
            t.issuer.clone(),
            t.audience.clone(),
            t.subject.clone(),
            t.ids.clone(),
            t.token_life,
        )
    };
    let Some(issuer) = issuer else {
        return refuse(s, "invalid_grant", "no trusted issuer");
    };
    for (k, v) in ids {
        if v.is_empty() {
            return refuse(s, "invalid_request", &format!("{k} is required"));
        }
        if want_ids.get(*k) != Some(v) {
            return refuse(s, "invalid_grant", &format!("{k} does not match"));
        }
    }
    if jwt.is_empty() {
        return refuse(s, "invalid_request", "the JWT is required");
    }
    let claims = match verify(&issuer, &audience, jwt).await {
        Ok(c) => c,
        Err(why) => return refuse(s, "invalid_grant", &why),
    };
    if claims["sub"] != subject.as_str() {
        return refuse(s, "invalid_grant", "sub does not match the rule");
    }
    let Some(jti) = claims["jti"].as_str().filter(|j| !j.is_empty()) else {
        return refuse(s, "invalid_grant", "jti is required");
    };
    let now = chrono::Utc::now().timestamp();
    let exp = claims["exp"].as_i64().unwrap_or(0);
    let mut st = s.lock().unwrap();
    if !st.federation.seen_jti.insert(jti.to_string()) {
        drop(st);
        return refuse(s, "invalid_grant", "jti was already used");
    }
    let expires_in = life.min(exp - now).clamp(1, 900);
    let token = match flavor {
        Flavor::Anthropic => format!("sk-ant-oat01-{}", base62(48)),
        Flavor::OpenRouter => format!("sk-or-v1-{}", base62(48)),
        _ => format!("oai-wif-{}", base62(48)),
    };
    st.federation.tokens.insert(token.clone(), now + expires_in);
    st.keys.insert(token.clone());
    st.federation.accepted += 1;
    respond(
        200,
        &[],
        json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in}),
    )
}

/// Fetches the discovery document and JWKS from `issuer` and verifies `jwt` against them.
async fn verify(issuer: &str, audience: &str, jwt: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| "not a JWT".to_string())?;
    if header.alg != Algorithm::RS256 {
        return Err("alg must be RS256".into());
    }
    let kid = header.kid.ok_or("kid is required")?;
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        async move {
            let r = http
                .get(&url)
                .send()
                .await
                .map_err(|_| format!("cannot fetch {url}"))?;
            if !r.status().is_success() {
                return Err(format!("{url} answered {}", r.status()));
            }
            r.json::<Value>()
                .await
                .map_err(|_| format!("{url} is not JSON"))
        }
    };
    let discovery = get(format!("{issuer}/.well-known/openid-configuration")).await?;
    if discovery["issuer"] != issuer {
        return Err("discovery issuer does not match".into());
    }
    let jwks_uri = discovery["jwks_uri"]
        .as_str()
        .ok_or("no jwks_uri")?
        .to_string();
    let jwks = get(jwks_uri).await?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
        .ok_or("kid is not in the JWKS")?;
    if jwk["kty"] != "RSA" || jwk.get("d").is_some() {
        return Err("JWK is not an RSA public key".into());
    }
    let key = DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap_or_default(),
        jwk["e"].as_str().unwrap_or_default(),
    )
    .map_err(|_| "bad JWK".to_string())?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    v.validate_nbf = true;
    v.leeway = 0;
    let data =
        jsonwebtoken::decode::<Value>(jwt, &key, &v).map_err(|e| format!("JWT refused: {e}"))?;
    Ok(data.claims)
}

/// Field `k` of a JSON body as text (empty when missing or not a string).
fn text_field(b: &Value, k: &str) -> String {
    b.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
