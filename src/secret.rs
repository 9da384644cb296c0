//! Secret key values: kept in [`secrecy::SecretString`], compared in constant time, never printed.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Largest key value accepted, in bytes (api.md "Conventions").
pub const MAX_KEY_VALUE_BYTES: usize = 4096;

/// An API key (or other secret) value.
///
/// `Debug` prints `SecretValue([redacted])`; there is no `Display`. Equality (`==`) is
/// constant-time over the bytes (only a length difference can leak). It serializes as a plain
/// JSON string, for the engine's own (Vault-encrypted) storage only: never put it in a response
/// other than `creds/`, nor in a log.
#[derive(Clone)]
pub struct SecretValue(SecretString);

impl SecretValue {
    /// Wraps `value`. Validation is the caller's job: see [`validate_key_value`].
    pub fn new(value: String) -> Self {
        Self(SecretString::from(value))
    }

    /// The value itself. Call only where the value must leave the engine (`creds/`, provider
    /// calls, storage).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// `sha256:` plus the first 16 hex digits of SHA-256 of the value, so a leaked key can be
    /// matched to its version (`printf %s "$KEY" | sha256sum`).
    pub fn fingerprint(&self) -> String {
        fingerprint_of(self.expose())
    }

    /// Compares with `other` in constant time (a difference in length may leak, nothing else).
    pub fn ct_eq(&self, other: &str) -> bool {
        self.ct_choice(other).into()
    }

    /// Constant-time comparison as a [`subtle::Choice`], for callers combining several.
    pub(crate) fn ct_choice(&self, other: &str) -> subtle::Choice {
        self.expose().as_bytes().ct_eq(other.as_bytes())
    }
}

/// The fingerprint of `value`, as [`SecretValue::fingerprint`] computes it.
pub fn fingerprint_of(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    format!("sha256:{}", hex::encode(&digest[..8]))
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([redacted])")
    }
}

impl PartialEq for SecretValue {
    /// Constant-time (see [`SecretValue::ct_eq`]).
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other.expose())
    }
}

impl Eq for SecretValue {}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

/// Checks a key value as api.md requires: non-empty and not only whitespace, at most 4096 bytes,
/// no control characters.
///
/// The error is a message for a 400 response naming the problem; it never contains the value.
pub fn validate_key_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("value must not be empty".to_string());
    }
    if s.trim().is_empty() {
        return Err("value must not be only whitespace".to_string());
    }
    if s.len() > MAX_KEY_VALUE_BYTES {
        return Err(format!(
            "value is {} bytes long; at most {MAX_KEY_VALUE_BYTES} bytes are allowed",
            s.len()
        ));
    }
    if let Some((offset, _)) = s.char_indices().find(|(_, c)| c.is_control()) {
        return Err(format!(
            "value contains a control character at byte offset {offset}; \
             control characters (including newlines and tabs) are not allowed"
        ));
    }
    Ok(())
}
