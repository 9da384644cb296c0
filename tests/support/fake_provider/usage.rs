//! Key use as the providers report it (providers.md "Usage, expiry and ownership lookups"):
//! OpenAI's project API key `last_used_at` (Unix seconds, rounded down, or null), stamped on
//! every accepted call with the key (the key-test endpoints included, as at OpenAI, so the
//! engine's own tests count as use there too), reported late under
//! [`super::Switches::last_used_lag`]; OpenRouter's `usage` (USD spent), which only calls that
//! cost money raise (its key-info endpoint is free), so tests add spend by hand.

use std::time::Instant;

use serde_json::{json, Value};

use super::{FakeProvider, Inner};

/// Stamps an accepted call with `key` now (called by the key-test endpoints' gate); with
/// [`super::Switches::last_used_lag`], the use is reported only once the lag has passed.
pub(super) fn touch(s: &mut Inner, key: &str) {
    let now = chrono::Utc::now().timestamp();
    match s.switches.last_used_lag {
        None => {
            s.last_used.insert(key.to_string(), now);
        }
        Some(lag) => s
            .pending_uses
            .entry(key.to_string())
            .or_default()
            .push((now, Instant::now() + lag)),
    }
}

/// `last_used_at` of the key whose value is `value`, as OpenAI shows it: the latest use whose
/// report is due.
pub(super) fn openai_last_used(s: &Inner, value: &str) -> Value {
    let now = Instant::now();
    let due = s
        .pending_uses
        .get(value)
        .into_iter()
        .flatten()
        .filter(|(_, from)| *from <= now)
        .map(|(t, _)| *t);
    s.last_used
        .get(value)
        .copied()
        .into_iter()
        .chain(due)
        .max()
        .map_or(Value::Null, |t| json!(t))
}

/// `usage` of the key whose value is `value`, as OpenRouter shows it.
pub(super) fn openrouter_usage(s: &Inner, value: &str) -> Value {
    json!(s.spend.get(value).copied().unwrap_or(0.0))
}

impl FakeProvider {
    /// When the key `value` was last used (Unix seconds), as the provider would report it.
    pub fn last_used(&self, value: &str) -> Option<i64> {
        self.lock().last_used.get(value).copied()
    }

    /// Sets (or clears) the key's reported last use, in Unix seconds.
    pub fn set_last_used(&self, value: &str, unix_secs: Option<i64>) {
        let mut s = self.lock();
        match unix_secs {
            Some(t) => s.last_used.insert(value.to_string(), t),
            None => s.last_used.remove(value),
        };
    }

    /// An application's paid call with the key: stamps its last use and adds `usd` to its spend.
    pub fn spend(&self, value: &str, usd: f64) {
        let mut s = self.lock();
        touch(&mut s, value);
        *s.spend.entry(value.to_string()).or_default() += usd;
    }
}
