//! What a test sets on the fake (valid keys, admin keys, modes, spend limits, a stall) and reads
//! back (the keys it created, their status, the requests it saw).

use super::{anthropic, FakeProvider, Mode};

impl FakeProvider {
    /// Makes `value` a valid key for every key-test endpoint.
    pub fn add_key(&self, value: &str) {
        self.lock().keys.insert(value.to_string());
    }

    /// Makes `value` invalid.
    pub fn remove_key(&self, value: &str) {
        self.lock().keys.remove(value);
    }

    /// Whether `value` is currently a valid key.
    pub fn is_valid_key(&self, value: &str) -> bool {
        self.lock().keys.contains(value)
    }

    /// Accepts `value` as an admin key (OpenAI admin, Anthropic admin, OpenRouter management).
    pub fn add_admin_key(&self, value: &str) {
        self.lock().admin_keys.insert(value.to_string());
    }

    /// Registers an Anthropic key (as made in the Console): valid, status `active`.
    pub fn add_anthropic_key(&self, id: &str, value: &str) {
        let mut s = self.lock();
        s.keys.insert(value.to_string());
        s.anthropic
            .insert(id.into(), (value.into(), "active".into()));
    }

    /// The status (`active`, `inactive`, `archived`, `expired`) Anthropic shows for key `id`.
    pub fn anthropic_key_status(&self, id: &str) -> Option<String> {
        let st = self.lock();
        let (_, stored) = st.anthropic.get(id)?;
        Some(anthropic::status(&st, id, stored))
    }

    /// Keys created through the admin APIs: `(provider id, value, active)`.
    pub fn created_keys(&self) -> Vec<(String, String, bool)> {
        let s = self.lock();
        s.minted
            .iter()
            .map(|k| (k.id.clone(), k.value.clone(), k.active))
            .collect()
    }

    /// The names the keys created through the admin API were created under (one per such key,
    /// in creation order): two equal names are one create sent twice.
    pub fn created_key_names(&self) -> Vec<String> {
        let s = self.lock();
        s.minted
            .iter()
            .filter_map(|k| s.key_names.get(&k.id).cloned())
            .collect()
    }

    /// Whether created key (or Anthropic key) `id` is active.
    pub fn is_active(&self, id: &str) -> bool {
        let s = self.lock();
        s.minted.iter().any(|k| k.id == id && k.active)
            || s.anthropic
                .get(id)
                .is_some_and(|(_, status)| status == "active")
    }

    /// OpenRouter `limit_remaining` of key `value` (`None`: no limit, reported as null).
    pub fn set_limit_remaining(&self, value: &str, remaining: Option<f64>) {
        self.lock().limits.insert(value.to_string(), remaining);
    }

    /// How the key-test endpoints answer from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = Some(mode);
    }

    /// How the admin endpoints answer from now on.
    /// While set, key-creating calls create the key and then do not answer (at most 60 s): the
    /// moment between "key created at the provider" and "version stored" in the engine.
    pub fn set_stall_after_create(&self, on: bool) {
        self.lock().stall_after_create = on;
    }

    /// Keys created through the admin APIs that are still active.
    pub fn active_created_keys(&self) -> Vec<String> {
        self.created_keys()
            .into_iter()
            .filter(|(_, _, active)| *active)
            .map(|(id, _, _)| id)
            .collect()
    }

    pub fn set_admin_mode(&self, mode: Mode) {
        self.lock().admin_mode = Some(mode);
    }

    /// Requests received whose path starts with `path_prefix`.
    pub fn hits(&self, path_prefix: &str) -> usize {
        let s = self.lock();
        s.hits
            .iter()
            .filter(|(p, _)| p.starts_with(path_prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests that would change key `id` (OpenAI and OpenRouter deletes, Anthropic status
    /// updates), counted before any check, so refused ones count too.
    pub fn mutation_requests(&self, id: &str) -> usize {
        self.lock().mutations.get(id).copied().unwrap_or(0)
    }

    /// Forgets the request counts and URIs.
    pub fn reset_hits(&self) {
        let mut s = self.lock();
        s.hits.clear();
        s.mutations.clear();
        s.uris.clear();
    }

    /// Every request URI received (path and query): no key should ever be in one.
    pub fn uris(&self) -> Vec<String> {
        self.lock().uris.clone()
    }
}
