//! `config`'s issuer fields: the public `issuer` URL and the signing-key schedule (kept in the
//! issuer's own storage entry, see `issuer/settings.rs`).

use chrono::Utc;
use serde_json::{json, Value};

use crate::backend::issuer::{
    self, IssuerSettings, DEFAULT_GRACE, DEFAULT_PREPUBLISH, DEFAULT_ROTATION_PERIOD, MAX_PERIOD,
    MIN_ROTATION_PERIOD,
};
use crate::backend::record;
use crate::framework::{Error, Field, FieldData, FieldType, Storage};

/// The fields `config` declares for the issuer.
pub(super) fn fields() -> Vec<Field> {
    vec![
        Field::new(
            "issuer",
            FieldType::String,
            "The public URL providers reach this mount's OpenID issuer at (https; http only for a loopback host): the iss claim of every token federated keys sign; the discovery document is at <issuer>/.well-known/openid-configuration. An empty string clears it (refused while federated keys exist).",
        )
        .max_len(512),
        Field::new(
            "signing_key_rotation_period",
            FieldType::Duration,
            "How long each issuer signing key signs before the next one takes over. Default 30d.",
        )
        .min(MIN_ROTATION_PERIOD)
        .max(MAX_PERIOD),
        Field::new(
            "signing_key_prepublish",
            FieldType::Duration,
            "How long a new signing key is published in the JWKS before it signs anything (shorter than the rotation period). Default 24h.",
        )
        .max(MAX_PERIOD),
        Field::new(
            "signing_key_grace",
            FieldType::Duration,
            "How long a replaced signing key stays published after it stops signing. Default 24h.",
        )
        .max(MAX_PERIOD),
    ]
}

/// What `config` reads show of the issuer.
pub(super) fn to_json(s: &IssuerSettings) -> Value {
    json!({
        "issuer": s.issuer.clone().unwrap_or_default(),
        "signing_key_rotation_period": s.rotation_period,
        "signing_key_prepublish": s.prepublish,
        "signing_key_grace": s.grace,
    })
}

/// Applies the request's issuer fields, checked before anything is written. When the issuer
/// is set and has no signing key yet, the first one is made now (this is a write request, so
/// the active node's). Returns the settings and a warning when the issuer moved while
/// federated keys sign with it; clearing it while any exists is a 400 naming them (an unset
/// shell variable, `issuer="$ISSUER"`, would stop every one at once).
pub(super) async fn update(
    storage: &dyn Storage,
    d: &FieldData,
) -> Result<(IssuerSettings, Option<String>), Error> {
    let mut s = IssuerSettings::load(storage).await?;
    let before = s.clone();
    if d.is_set("issuer") {
        let raw = d.get_string("issuer").unwrap_or_default();
        s.issuer = if raw.is_empty() {
            None
        } else {
            Some(issuer::parse_issuer(&raw)?)
        };
    }
    let duration = |name: &str, default: i64| d.get_duration(name).unwrap_or(default);
    if d.is_set("signing_key_rotation_period") {
        s.rotation_period = duration("signing_key_rotation_period", DEFAULT_ROTATION_PERIOD);
    }
    if d.is_set("signing_key_prepublish") {
        s.prepublish = duration("signing_key_prepublish", DEFAULT_PREPUBLISH);
    }
    if d.is_set("signing_key_grace") {
        s.grace = duration("signing_key_grace", DEFAULT_GRACE);
    }
    s.check()?;
    let mut warning = None;
    if before.issuer.is_some() && s.issuer != before.issuer {
        let names = record::federated_names(storage).await?;
        if !names.is_empty() {
            let listed = names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ");
            if s.issuer.is_none() {
                return Err(Error::BadRequest(format!(
                    "issuer cannot be cleared while federated keys sign with it: {listed}; \
                     delete them first (their creds/ would fail at once)"
                )));
            }
            warning = Some(format!(
                "issuer changed while federated keys sign with it: {listed}; their tokens now \
                 carry the new iss: make each provider trust the new issuer URL (docs/keyless.md), \
                 or their exchanges are refused"
            ));
        }
    }
    if s != before {
        s.save(storage).await?;
    }
    if s.issuer.is_some() {
        issuer::rotate_on_tick(storage, Utc::now()).await?;
    }
    Ok((s, warning))
}
