//! The issuer's settings (`config` fields `issuer`, `signing_key_rotation_period`,
//! `signing_key_prepublish`, `signing_key_grace`), kept in their own storage entry so the rest
//! of `config` is untouched by them.

use serde::{Deserialize, Serialize};
use url::{Host, Url};

use crate::framework::{get_json, put_json, Error, Storage};

/// Storage key of the settings.
const SETTINGS_KEY: &str = "issuer/settings";
/// Default `signing_key_rotation_period`: 30 days.
pub(crate) const DEFAULT_ROTATION_PERIOD: i64 = 30 * 86_400;
/// Default `signing_key_prepublish`: 24 hours.
pub(crate) const DEFAULT_PREPUBLISH: i64 = 86_400;
/// Default `signing_key_grace`: 24 hours (a provider caches a JWKS for minutes to hours).
pub(crate) const DEFAULT_GRACE: i64 = 86_400;
/// The shortest rotation period: an hour (a signing key signs tokens of minutes).
pub(crate) const MIN_ROTATION_PERIOD: i64 = 3_600;
/// The longest rotation period, prepublish window or grace: a year.
pub(crate) const MAX_PERIOD: i64 = 365 * 86_400;
/// The longest `issuer` URL.
const MAX_ISSUER_LEN: usize = 512;

/// The issuer's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct IssuerSettings {
    /// The public URL providers reach this mount at (`iss` of every token); none until set.
    pub issuer: Option<String>,
    /// How long a signing key signs (seconds).
    pub rotation_period: i64,
    /// How long a new signing key is published before it signs (seconds).
    pub prepublish: i64,
    /// How long a replaced signing key stays published after it stops signing (seconds).
    pub grace: i64,
}

impl Default for IssuerSettings {
    fn default() -> IssuerSettings {
        IssuerSettings {
            issuer: None,
            rotation_period: DEFAULT_ROTATION_PERIOD,
            prepublish: DEFAULT_PREPUBLISH,
            grace: DEFAULT_GRACE,
        }
    }
}

impl IssuerSettings {
    /// The stored settings, or the defaults.
    pub(crate) async fn load(storage: &dyn Storage) -> Result<IssuerSettings, Error> {
        Ok(get_json(storage, SETTINGS_KEY).await?.unwrap_or_default())
    }

    /// Stores the settings.
    pub(crate) async fn save(&self, storage: &dyn Storage) -> Result<(), Error> {
        Ok(put_json(storage, SETTINGS_KEY, self).await?)
    }

    /// The prepublish window must leave the key time to sign: shorter than the period.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.prepublish >= self.rotation_period {
            return Err(Error::BadRequest(format!(
                "signing_key_prepublish ({}s) must be shorter than signing_key_rotation_period \
                 ({}s): a new key is published that long before it signs",
                self.prepublish, self.rotation_period
            )));
        }
        Ok(())
    }

    /// The issuer URL as `iss` carries it, or a 400 saying federated keys need one.
    pub(crate) fn require_issuer(&self) -> Result<&str, Error> {
        self.issuer.as_deref().ok_or_else(|| {
            Error::BadRequest(
                "config issuer is not set: federated keys need the public URL of this mount's \
                 OpenID issuer (see docs/keyless.md)"
                    .into(),
            )
        })
    }
}

/// Checks and normalises an `issuer` URL: https (http only for a loopback host), a host, no
/// query, fragment or credentials, no trailing slash. The message never repeats the URL.
pub(crate) fn parse_issuer(raw: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::BadRequest(format!("issuer {why}"));
    if raw.len() > MAX_ISSUER_LEN {
        return Err(bad(&format!("must be at most {MAX_ISSUER_LEN} bytes")));
    }
    let url = Url::parse(raw).map_err(|_| bad("must be an absolute URL"))?;
    let loopback = match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("must name a host")),
    };
    match (url.scheme(), loopback) {
        ("https", _) | ("http", true) => {}
        _ => {
            return Err(bad(
                "must use https (http only for a loopback host): providers fetch its keys there",
            ))
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must have no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must carry no credentials"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}
