//! The issuer's signing keys (storage `issuer/keys`, one document written at once): which key
//! signs at a time, which keys the JWKS publishes, and the schedule that adds and drops them.
//!
//! A key signs from its `signs_from` until the next key's `signs_from`; it is published from the
//! moment it is stored until `signing_key_grace` after it stopped signing. A new key is stored
//! `signing_key_prepublish` before it signs, so providers that cache the JWKS see it first.
//! A crash between generating a key and storing the document loses a key nobody saw.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::settings::IssuerSettings;
use crate::framework::{get_json, put_json, Error, Storage};

/// Storage prefix of everything the issuer keeps (seal-wrapped where the server can).
pub(crate) const ISSUER_PREFIX: &str = "issuer/";
/// Storage key of the signing keys.
const KEYS_KEY: &str = "issuer/keys";
/// At most this many keys are kept (published or waiting): a bound on the document.
const MAX_KEYS: usize = 8;

/// One writer of the signing keys at a time (the tick and `rotate-signing-key`).
static WRITER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A PKCS#8 private key, base64 in storage; its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct PrivateKey(String);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey([redacted])")
    }
}

impl PrivateKey {
    /// The key as PEM, for the JWT library; never leaves this part.
    pub(super) fn pem(&self) -> Result<String, Error> {
        let der = STANDARD
            .decode(&self.0)
            .map_err(|_| Error::Internal("stored signing key is not base64".into()))?;
        let body = STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        Ok(pem)
    }
}

/// One RS256 signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SigningKey {
    /// Key id: the RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// When it was made (and first published).
    pub created_time: DateTime<Utc>,
    /// When it starts signing.
    pub signs_from: DateTime<Utc>,
    /// Public modulus, base64url without padding (as a JWK's `n`).
    pub n: String,
    /// Public exponent, base64url without padding (as a JWK's `e`).
    pub e: String,
    /// The private key.
    pub private_key: PrivateKey,
}

impl SigningKey {
    /// A new 2048-bit key that starts signing at `signs_from`.
    fn generate(now: DateTime<Utc>, signs_from: DateTime<Utc>) -> Result<SigningKey, Error> {
        let failed = |what: &str| Error::Internal(format!("signing key generation failed: {what}"));
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| failed("generate"))?;
        let pkcs8 = pair.as_der().map_err(|_| failed("export"))?;
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        // RFC 7638: the members e, kty, n in that order, no whitespace.
        let thumbprint = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
        Ok(SigningKey {
            kid,
            created_time: now,
            signs_from,
            n,
            e,
            private_key: PrivateKey(STANDARD.encode(pkcs8.as_ref())),
        })
    }
}

/// The signing keys, oldest first (by `signs_from`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Keyring {
    /// The keys.
    pub keys: Vec<SigningKey>,
}

impl Keyring {
    /// The stored keys (none before the issuer is configured).
    pub(crate) async fn load(storage: &dyn Storage) -> Result<Keyring, Error> {
        Ok(get_json(storage, KEYS_KEY).await?.unwrap_or_default())
    }

    /// The key that signs at `now`: the latest whose `signs_from` has come.
    pub(crate) fn signer_at(&self, now: DateTime<Utc>) -> Option<&SigningKey> {
        self.keys.iter().rev().find(|k| k.signs_from <= now)
    }

    /// When the key at `index` stops signing: its successor's start.
    fn signs_until(&self, index: usize) -> Option<DateTime<Utc>> {
        self.keys.get(index + 1).map(|k| k.signs_from)
    }

    /// The keys the JWKS shows at `now`: every stored key until `grace` after it stopped signing.
    pub(crate) fn published_at(&self, now: DateTime<Utc>, grace: i64) -> Vec<&SigningKey> {
        (0..self.keys.len())
            .filter(|&i| {
                self.signs_until(i)
                    .is_none_or(|until| until + TimeDelta::seconds(grace) > now)
            })
            .filter_map(|i| self.keys.get(i))
            .collect()
    }

    /// Drops keys no longer published; `true` when one went.
    fn prune(&mut self, now: DateTime<Utc>, grace: i64) -> bool {
        let keep: Vec<String> = self
            .published_at(now, grace)
            .iter()
            .map(|k| k.kid.clone())
            .collect();
        let before = self.keys.len();
        self.keys.retain(|k| keep.contains(&k.kid));
        self.keys.len() != before
    }

    /// The schedule's next step at `now`: a first key that signs at once; a successor published
    /// `prepublish` before the signer's period ends; `None` when nothing is due.
    fn due_successor(&self, now: DateTime<Utc>, s: &IssuerSettings) -> Option<DateTime<Utc>> {
        let Some(last) = self.keys.last() else {
            return Some(now);
        };
        if last.signs_from > now {
            return None; // a successor is already published and waits for its time
        }
        let due = last.signs_from + TimeDelta::seconds(s.rotation_period);
        let prepublish = TimeDelta::seconds(s.prepublish);
        (now >= due - prepublish).then(|| due.max(now + prepublish))
    }

    /// The earliest time after `now` at which [`tick`] has something to do: a replaced key's
    /// grace ends, or the signer's successor is due to be published.
    fn next_work(&self, now: DateTime<Utc>, s: &IssuerSettings) -> Option<DateTime<Utc>> {
        let grace = TimeDelta::seconds(s.grace);
        let ends = (1..self.keys.len())
            .filter_map(|i| self.keys.get(i))
            .map(|k| k.signs_from + grace);
        let successor = self.keys.last().map(|last| {
            last.signs_from + TimeDelta::seconds(s.rotation_period)
                - TimeDelta::seconds(s.prepublish)
        });
        ends.chain(successor)
            .filter(|t| *t > now)
            .min()
            .or(Some(now))
    }

    async fn save(&self, storage: &dyn Storage) -> Result<(), Error> {
        Ok(put_json(storage, KEYS_KEY, self).await?)
    }
}

/// The tick's work (active node only; the caller checks): once the issuer is configured, make
/// the first key, publish a successor when the signer's period nears its end, and drop keys
/// whose grace ended. Writes only when something changed. Returns when there is next work to
/// do (`None`: none until the settings change), so idle ticks need not read storage.
pub(crate) async fn tick(
    storage: &dyn Storage,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, Error> {
    let settings = IssuerSettings::load(storage).await?;
    if settings.issuer.is_none() {
        return Ok(None);
    }
    let _writer = WRITER.lock().await;
    let mut ring = Keyring::load(storage).await?;
    let mut changed = ring.prune(now, settings.grace);
    if let Some(signs_from) = ring.due_successor(now, &settings) {
        if ring.keys.len() < MAX_KEYS {
            ring.keys.push(SigningKey::generate(now, signs_from)?);
            changed = true;
            tracing::info!(signs_from = %signs_from.to_rfc3339(), "issuer: new signing key published");
        }
    }
    if changed {
        ring.save(storage).await?;
    }
    Ok(ring.next_work(now, &settings))
}

/// `rotate-signing-key`: publishes a new key that signs after the prepublish window, or at once
/// when `immediate` (an emergency: tokens already signed by the old key stay valid through
/// its grace). A successor already waiting is brought forward by `immediate`, refused otherwise.
/// Returns the new signer's kid and when it signs.
pub(crate) async fn rotate_now(
    storage: &dyn Storage,
    now: DateTime<Utc>,
    immediate: bool,
) -> Result<(String, DateTime<Utc>), Error> {
    let settings = IssuerSettings::load(storage).await?;
    settings.require_issuer()?;
    let _writer = WRITER.lock().await;
    let mut ring = Keyring::load(storage).await?;
    ring.prune(now, settings.grace);
    let signs_from = if immediate {
        now
    } else {
        now + TimeDelta::seconds(settings.prepublish)
    };
    match ring.keys.last_mut() {
        Some(waiting) if waiting.signs_from > now => {
            if !immediate {
                return Err(Error::BadRequest(format!(
                    "a new signing key is already published and signs from {}; rotate with \
                     immediate=true to make it sign now",
                    waiting.signs_from.to_rfc3339()
                )));
            }
            waiting.signs_from = now;
        }
        _ => {
            if ring.keys.len() >= MAX_KEYS {
                return Err(Error::BadRequest(format!(
                    "{MAX_KEYS} signing keys are published already; wait for the oldest's grace \
                     to end"
                )));
            }
            ring.keys.push(SigningKey::generate(now, signs_from)?);
        }
    }
    ring.save(storage).await?;
    let kid = ring.keys.last().map(|k| k.kid.clone()).unwrap_or_default();
    tracing::info!(kid = %kid, immediate, "issuer: signing key rotated");
    Ok((kid, signs_from))
}
