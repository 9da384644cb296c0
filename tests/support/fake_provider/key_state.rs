//! Why a known key value is still refused on its key test (fake_provider.rs "What it follows"):
//! its `expires_at` has passed (every provider: 401); it sits in an OpenAI service account with
//! role `none` (OpenAI's 401 "insufficient permissions", [`Switches::roleless_keys_refused`]);
//! it is a disabled OpenRouter key (401).
//!
//! [`Switches::roleless_keys_refused`]: super::Switches::roleless_keys_refused

use axum::response::Response;

use super::accounts::owner_of;
use super::admin::mint;
use super::errors::error;
use super::{FakeProvider, Flavor, Inner, Kind};

/// The refusal of a key test with `key` (a value the fake knows), if it is refused.
pub(super) fn refusal(st: &Inner, flavor: Flavor, key: &str) -> Option<Response> {
    let now = chrono::Utc::now().timestamp();
    if super::federation::expired(st, key) {
        return Some(error(flavor, 401, Kind::Invalid, key, ""));
    }
    let minted = st.minted.iter().find(|k| k.active && k.value == key);
    let id = minted.map(|k| k.id.as_str()).or_else(|| {
        st.anthropic
            .iter()
            .find(|(_, (value, _))| value == key)
            .map(|(id, _)| id.as_str())
    });
    if id
        .and_then(|id| st.expires.get(id))
        .is_some_and(|t| *t <= now)
    {
        return Some(error(flavor, 401, Kind::Invalid, key, ""));
    }
    let k = minted?;
    if k.disabled {
        return Some(error(flavor, 401, Kind::Denied, key, ""));
    }
    let roleless = owner_of(st, k).is_some_and(|a| a.role == "none");
    if roleless && st.switches.roleless_keys_refused {
        return Some(error(flavor, 401, Kind::NoRole, key, ""));
    }
    None
}

impl FakeProvider {
    /// Registers a key made at OpenRouter by a person: valid, with hash `hash`.
    pub fn add_openrouter_key(&self, hash: &str, value: &str) {
        let owner = "openrouter".to_string();
        mint(
            &self.state,
            hash.into(),
            value.into(),
            owner,
            "made by a person",
        );
    }

    /// Registers a key made at OpenRouter under `name` (as the engine names the keys it makes,
    /// for a key made after a snapshot the server was restored from): valid, with hash `hash`.
    pub fn add_openrouter_key_named(&self, hash: &str, value: &str, name: &str) {
        let owner = "openrouter".to_string();
        mint(&self.state, hash.into(), value.into(), owner, name);
    }

    /// When created key `id` expires at the provider (Unix seconds), if its create asked.
    pub fn key_expires_at(&self, id: &str) -> Option<i64> {
        self.lock().expires.get(id).copied()
    }

    /// Sets (or clears) when key `id` (created, registered or Anthropic) expires, in Unix
    /// seconds; a time in the past expires it now.
    pub fn set_key_expires_at(&self, id: &str, at: Option<i64>) {
        let mut st = self.lock();
        match at {
            Some(t) => st.expires.insert(id.to_string(), t),
            None => st.expires.remove(id),
        };
    }

    /// Disables (or enables) OpenRouter key `hash`, as `PATCH /api/v1/keys/{hash}`
    /// `{disabled}` would.
    pub fn set_openrouter_disabled(&self, hash: &str, disabled: bool) {
        let mut st = self.lock();
        let key = st
            .minted
            .iter_mut()
            .find(|k| k.id == hash && k.owner == "openrouter")
            .expect("an OpenRouter key");
        key.disabled = disabled;
    }
}
