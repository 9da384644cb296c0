//! The fake's behaviour switches, each on or off per test: [`FakeProvider::start_with`] starts
//! a fake with them, [`FakeProvider::switch`] changes them while it runs.
//!
//! The defaults are what the real APIs always do (documented paging with the documented
//! default `limit`, role-less OpenAI accounts whose keys cannot call the API, keys that stop
//! working when their `expires_at` passes, OpenRouter's newest-first list without disabled
//! keys); every hostile variation a real API may show only sometimes (list lag, a 503 after the
//! key was made, a key-expiry policy, the earlier delete behaviour, a lagging `last_used_at`) is
//! off until a test turns it on. Where each behaviour comes from is in the fake's module docs.

use std::time::{Duration, Instant};

use super::{FakeProvider, Inner};

/// When a newly created key starts to appear in list answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lag {
    /// At once.
    #[default]
    None,
    /// After this many list requests of its collection (each request counts once, whatever its
    /// page) have left it out.
    Calls(usize),
    /// Once this long has passed since it was created.
    Delay(Duration),
}

/// An organization's or project's API key expiration policy (OpenAI): a create that breaks it is
/// refused with a 400.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyPolicy {
    /// The longest `expires_in_seconds` allowed. The reference: "When a policy sets a maximum
    /// lifetime, this value must be provided and must not exceed that limit", so a maximum also
    /// makes the expiry required.
    pub max_lifetime_secs: Option<i64>,
    /// Keys must be created with `expires_in_seconds` (a policy that requires an expiration
    /// without a maximum).
    pub expiry_required: bool,
}

impl KeyPolicy {
    /// Whether a create without `expires_in_seconds` is refused.
    pub fn requires_expiry(&self) -> bool {
        self.expiry_required || self.max_lifetime_secs.is_some()
    }
}

/// Every switch of the fake (see the module docs for the defaults).
#[derive(Clone, Debug)]
pub struct Switches {
    /// Keys in an OpenAI service account whose role is `none` (made with
    /// `create_service_account_only` and never given a role) are refused with OpenAI's 401
    /// "insufficient permissions". Default on: the real API always does.
    pub roleless_keys_refused: bool,
    /// OpenAI's key expiration policy for creates. Default: none.
    pub openai_key_policy: KeyPolicy,
    /// When a created key shows in list answers (OpenAI project API keys, OpenRouter keys).
    /// Default: at once.
    pub list_lag: Lag,
    /// Each created key is left out of exactly one list answer: the first one whose page it
    /// would be on. Default off.
    pub hide_new_keys_once: bool,
    /// At most this many items a list page, whatever `limit` asked (OpenAI's `limit` is a
    /// maximum; OpenRouter names no page size). Default: none, so OpenAI pages hold `limit`
    /// items (default 20) and OpenRouter pages 100.
    pub page_cap: Option<usize>,
    /// Key-creating calls make the key and then answer 503 instead of the key. Default off.
    pub unavailable_after_create: bool,
    /// `DELETE .../api_keys/{id}` refuses keys owned by a service account (the earlier OpenAI
    /// reference: "or an error if the key belonged to a service account"). Default off: the
    /// newest reference deletes them.
    pub openai_delete_refuses_service_account_keys: bool,
    /// A key's use shows in `last_used_at` only this long after it happened. Default: at once.
    pub last_used_lag: Option<Duration>,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            roleless_keys_refused: true,
            openai_key_policy: KeyPolicy::default(),
            list_lag: Lag::None,
            hide_new_keys_once: false,
            page_cap: None,
            unavailable_after_create: false,
            openai_delete_refuses_service_account_keys: false,
            last_used_lag: None,
        }
    }
}

/// How a new key starts out in lists, from the switches in force when it was made.
pub(super) struct Listing {
    /// List requests that must still leave it out.
    pub calls_left: usize,
    /// Before this instant it is left out.
    pub visible_from: Option<Instant>,
    /// Left out of the next list answer whose page it would be on.
    pub hide_once: bool,
}

impl Listing {
    /// Shown at once (keys a test registers).
    pub(super) fn shown() -> Listing {
        Listing {
            calls_left: 0,
            visible_from: None,
            hide_once: false,
        }
    }

    /// A key created now, under `switches`.
    pub(super) fn created(switches: &Switches) -> Listing {
        let (calls_left, visible_from) = match switches.list_lag {
            Lag::None => (0, None),
            Lag::Calls(n) => (n, None),
            Lag::Delay(d) => (0, Some(Instant::now() + d)),
        };
        Listing {
            calls_left,
            visible_from,
            hide_once: switches.hide_new_keys_once,
        }
    }
}

impl FakeProvider {
    /// Starts the server with `switches` in force.
    pub async fn start_with(switches: Switches) -> FakeProvider {
        let fake = FakeProvider::start().await;
        fake.lock().switches = switches;
        fake
    }

    /// Changes the switches in force from now on.
    pub fn switch(&self, change: impl FnOnce(&mut Switches)) {
        change(&mut self.lock().switches);
    }

    /// The switches in force.
    pub fn switches(&self) -> Switches {
        self.lock().switches.clone()
    }
}

impl Inner {
    /// The 503 of [`Switches::unavailable_after_create`], if on.
    pub(super) fn unavailable_after_create(&self) -> bool {
        self.switches.unavailable_after_create
    }
}
