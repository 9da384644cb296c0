//! What the issuer publishes (the discovery document and the JWKS) and what it signs (a JWT
//! assertion for a provider's token exchange), with `jsonwebtoken` on aws-lc-rs.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{json, Value};

use super::keyring::Keyring;
use super::settings::IssuerSettings;
use crate::framework::Error;

/// What a federated key asks the issuer to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assertion {
    /// `sub`.
    pub subject: String,
    /// `aud`.
    pub audience: String,
    /// Lifetime in seconds (`exp` - `iat`).
    pub ttl: i64,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

/// A signed JWT for `assertion` with the key that signs at `now`, and its `exp`. The token is a
/// credential for its few minutes: callers never log it.
pub(crate) fn sign_assertion(
    settings: &IssuerSettings,
    ring: &Keyring,
    assertion: &Assertion,
    now: DateTime<Utc>,
) -> Result<(String, i64), Error> {
    let iss = settings.require_issuer()?;
    let key = ring.signer_at(now).ok_or_else(|| Error::Coded {
        status: 503,
        message: "the issuer has no signing key yet: the active node makes one on its next \
                  tick after config issuer is set (or write rotate-signing-key)"
            .into(),
    })?;
    let iat = now.timestamp();
    let exp = iat + assertion.ttl;
    let claims = Claims {
        iss,
        sub: &assertion.subject,
        aud: &assertion.audience,
        iat,
        nbf: iat,
        exp,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    let pem = key.private_key.pem()?;
    let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|e| Error::Internal(format!("stored signing key unusable: {}", e.kind_name())))?;
    let token = jsonwebtoken::encode(&header, &claims, &encoding)
        .map_err(|e| Error::Internal(format!("signing failed: {}", e.kind_name())))?;
    Ok((token, exp))
}

/// Names a jsonwebtoken error without its details (which never hold key material anyway).
trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for jsonwebtoken::errors::Error {
    fn kind_name(&self) -> String {
        format!("{:?}", self.kind())
            .split(['(', ' '])
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

/// `.well-known/openid-configuration`.
pub(crate) fn discovery_document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/keys"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"],
    })
}

/// `.well-known/keys`: the public half of every published key.
pub(crate) fn jwks_document(ring: &Keyring, now: DateTime<Utc>, grace: i64) -> Value {
    let keys: Vec<Value> = ring
        .published_at(now, grace)
        .into_iter()
        .map(|k| {
            json!({
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": k.kid,
                "n": k.n,
                "e": k.e,
            })
        })
        .collect();
    json!({ "keys": keys })
}
