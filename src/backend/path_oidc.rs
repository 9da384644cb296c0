//! The mount's OpenID issuer: `.well-known/openid-configuration` and `.well-known/keys`
//! (unauthenticated: the mount declares `.well-known/*` in its special paths, so providers fetch
//! them without a token) and `rotate-signing-key` (an admin's, for emergencies and tests).

use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Value};

use super::issuer::{self, IssuerSettings, Keyring};
use super::shared::{bind, Shared};
use crate::framework::{
    Error, Field, FieldData, FieldType, HandlerResult, Operation, Path, Request, Response,
};

/// The paths reachable without a token (plugin-protocol.md 6.6: `*` is a prefix match).
pub(super) const UNAUTHENTICATED: &[&str] = &[".well-known/*"];

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![
        Path::new(r"\.well-known/openid-configuration")
            .operation(
                Operation::Read,
                "The OpenID discovery document of this mount's issuer.",
                bind(shared, discovery),
            )
            .help(DISCOVERY_SYNOPSIS, DISCOVERY_DESCRIPTION),
        Path::new(r"\.well-known/keys")
            .operation(
                Operation::Read,
                "The issuer's published public signing keys (JWKS).",
                bind(shared, jwks),
            )
            .help(JWKS_SYNOPSIS, JWKS_DESCRIPTION),
        Path::new("rotate-signing-key")
            .field(Field::new(
                "immediate",
                FieldType::Bool,
                "If true, the new key signs at once instead of after signing_key_prepublish (an emergency: providers that cached the JWKS may refuse its tokens until they fetch it again).",
            ).default(json!(false)))
            .operation(
                Operation::Update,
                "Publish a new issuer signing key now.",
                bind(shared, rotate),
            )
            .help(ROTATE_SYNOPSIS, ROTATE_DESCRIPTION),
    ]
}

/// A JSON document as the body itself (no `{"data": ...}` envelope), as providers expect.
fn document(body: &Value) -> HandlerResult {
    Ok(Some(Response::raw(
        200,
        "application/json",
        body.to_string().as_bytes(),
    )))
}

async fn configured(req: &Request) -> Result<(IssuerSettings, String), Error> {
    let settings = IssuerSettings::load(req.storage.as_ref()).await?;
    let Some(iss) = settings.issuer.clone() else {
        return Err(Error::NotFound(
            "this mount's issuer is not configured (config issuer)".into(),
        ));
    };
    Ok((settings, iss))
}

async fn discovery(_s: Arc<Shared>, req: Request, _d: FieldData) -> HandlerResult {
    let (_, iss) = configured(&req).await?;
    document(&issuer::discovery_document(&iss))
}

async fn jwks(_s: Arc<Shared>, req: Request, _d: FieldData) -> HandlerResult {
    let (settings, _) = configured(&req).await?;
    let ring = Keyring::load(req.storage.as_ref()).await?;
    document(&issuer::jwks_document(&ring, Utc::now(), settings.grace))
}

async fn rotate(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let immediate = d.get_bool("immediate").unwrap_or(false);
    let (kid, signs_from) = issuer::rotate_now(req.storage.as_ref(), Utc::now(), immediate).await?;
    *s.issuer_due.lock().unwrap_or_else(|p| p.into_inner()) = None;
    Ok(Some(Response::with_data(json!({
        "kid": kid,
        "signs_from": signs_from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }))))
}

const DISCOVERY_SYNOPSIS: &str = "OpenID discovery document of this mount's issuer.";
const DISCOVERY_DESCRIPTION: &str = "\
Unauthenticated. issuer is config issuer; jwks_uri is issuer + /.well-known/keys. Providers \
that trust this mount for workload identity federation fetch it (see docs/keyless.md). 404 \
until config issuer is set.";
const JWKS_SYNOPSIS: &str = "Public signing keys of this mount's issuer (JWKS).";
const JWKS_DESCRIPTION: &str = "\
Unauthenticated. RS256 public keys: the key that signs now, a new key signing_key_prepublish \
before it signs, and a replaced key for signing_key_grace after it stopped. Never a private key.";
const ROTATE_SYNOPSIS: &str = "Rotate the issuer's signing key.";
const ROTATE_DESCRIPTION: &str = "\
Publishes a new signing key that signs after signing_key_prepublish (or at once with \
immediate=true; a key already waiting is then brought forward). The replaced key stays published \
for signing_key_grace. Keys also rotate on their own every signing_key_rotation_period, on the \
active node's periodic tick. Returns the new key's kid and when it signs.";
