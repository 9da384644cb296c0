//! The mount as an OpenID Connect issuer for federated keys: its settings (the public `issuer`
//! URL and the signing-key schedule), its RSA signing keys kept in the mount's storage, the
//! discovery document and JWKS it publishes, and the JWTs it signs for a provider's token
//! exchange.
//!
//! Signing keys follow the engine's dual-version rules: a new key is published
//! `signing_key_prepublish` before it signs anything, and the key it replaces stays published
//! for `signing_key_grace` after it stops signing. Rotation is a write, so it runs only on the
//! active node's tick (or `rotate-signing-key`); a standby reads and signs, never writes.
//! Private keys never leave storage: no response, log line or `Debug` shows one.
//!
//! Below the workflows (which sign through it) and above `shared`/`policy`/`record`; it knows
//! nothing of providers or paths.

mod jwt;
mod keyring;
mod settings;

pub(super) use jwt::{discovery_document, jwks_document, sign_assertion, Assertion};
pub(super) use keyring::{rotate_now, tick as rotate_on_tick, Keyring, ISSUER_PREFIX};
pub(super) use settings::{
    parse_issuer, IssuerSettings, DEFAULT_GRACE, DEFAULT_PREPUBLISH, DEFAULT_ROTATION_PERIOD,
    MAX_PERIOD, MIN_ROTATION_PERIOD,
};

#[cfg(test)]
mod tests;
