//! What the model knows that the engine does not: two provider hosts (fake OpenRouters on
//! loopback, each the truth about its keys and the deletes it received), which keys people made
//! there and which of them the engine was shown possession of, the deletes people sent, where
//! each provider configuration points, and the step list so far.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Value};

use super::driver::Instance;
use super::support::fake_provider::{FakeProvider, Lag, Mode};
use crate::framework::InMemoryStorage;

/// The management key both hosts accept.
pub(super) const ADMIN: &str = "sk-or-v1-admin-model-0123456789abcdef";
/// The provider configurations the model uses.
pub(super) const PROVIDERS: [&str; 2] = ["p1", "p2"];
/// An OpenAI configuration at host 0 (never moved): keys created there get provider-side
/// expiries, moved to their grace end when they retire (`provider_expiry` intents).
pub(super) const OPENAI: &str = "p3";
/// The OpenAI project of [`OPENAI`].
const PROJECT: &str = "proj_model";
/// The managed keys the model uses.
pub(super) const KEYS: [&str; 3] = ["k0", "k1", "k2"];

/// A key a person made at a host (which one: the fake that lists it).
pub(super) struct PersonKey {
    pub value: String,
    /// The engine was given this key's value together with its own id: it may prove
    /// possession, and then revoke it.
    pub proven: bool,
}

/// Counts for the run's figures.
#[derive(Default, Debug, Clone, Copy)]
pub(super) struct Stats {
    pub steps: usize,
    pub kills: usize,
    pub faults: usize,
    pub answered_2xx: usize,
    pub answered_4xx: usize,
    pub answered_5xx: usize,
    /// Leak reports answered 2xx (`exposed`).
    pub exposed_ok: usize,
    /// `reconcile` steps answered 2xx.
    pub reconciled_ok: usize,
    /// Refused current keys a step was judged on by (h).
    pub refused_judged: usize,
}

/// The model's world: the fakes, the engine process, and what only the model knows.
pub(super) struct World {
    pub seed: u64,
    pub fakes: [FakeProvider; 2],
    pub storage: Arc<InMemoryStorage>,
    pub engine: Instance,
    /// Where each provider configuration points (host index), `None` while it does not exist.
    pub providers: BTreeMap<&'static str, Option<usize>>,
    /// Person-made keys by id.
    pub persons: HashMap<String, PersonKey>,
    /// Deletes people sent themselves, by (host, id).
    pub external: HashMap<(usize, String), usize>,
    /// The steps so far (what a failure prints).
    pub steps: Vec<String>,
    pub stats: Stats,
    /// The provider calls' timeout (seconds).
    pub timeout: u64,
    /// Keys a person disabled at a host, by (host, id).
    pub disabled: HashSet<(usize, String)>,
    /// What answered leak reports promised ([`super::leaks`]).
    pub leaked: Vec<super::leaks::Promise>,
    /// What the checks around the last step found ([`super::promises`]).
    pub findings: Vec<super::invariants::Violation>,
}

impl World {
    /// Two hosts, providers `p1` (host 0) and `p2` (host 1), a fresh engine. One seed in three
    /// gets hosts whose lists lag as the real APIs' may (a new key shows only after two list
    /// calls, and is left out of one answer more), which is what crash recovery must live with.
    ///
    /// Provider calls time out after `timeout` seconds: 1 where stalls are drawn (each costs
    /// it), else 10, so that a loaded machine's slow loopback answer is not a fault.
    pub(super) async fn new(seed: u64, timeout: u64) -> World {
        let fakes = [FakeProvider::start().await, FakeProvider::start().await];
        for f in &fakes {
            f.add_admin_key(ADMIN);
            if super::known::lagging(seed) {
                f.switch(|s| {
                    s.list_lag = Lag::Calls(2);
                    s.hide_new_keys_once = true;
                });
            }
        }
        let storage = Arc::new(InMemoryStorage::new());
        let engine = Instance::boot(storage.clone()).await;
        let mut world = World {
            seed,
            fakes,
            storage,
            engine,
            providers: BTreeMap::new(),
            persons: HashMap::new(),
            external: HashMap::new(),
            steps: Vec::new(),
            stats: Stats::default(),
            timeout,
            disabled: HashSet::new(),
            leaked: Vec::new(),
            findings: Vec::new(),
        };
        for h in 0..world.fakes.len() {
            world.foreign_key(h);
        }
        // Every other seed: keys are health-checked every 30 s unless `Watch` says otherwise.
        if seed % 2 == 1 {
            let setup = [
                (
                    "schedules/watched",
                    json!({ "rotation_period": "90d", "grace_period": "1h", "health_check_interval": "30s" }),
                ),
                ("config", json!({ "default_schedule": "watched" })),
            ];
            for (path, body) in setup {
                let r = world
                    .engine
                    .answer(crate::framework::Operation::Update, path, body)
                    .await;
                r.unwrap_or_else(|e| panic!("{path}: {e}"));
            }
        }
        for (i, p) in PROVIDERS.into_iter().enumerate() {
            world.providers.insert(p, None);
            let body = world.provider_body(i);
            let r = world
                .engine
                .answer(
                    crate::framework::Operation::Create,
                    &format!("providers/{p}"),
                    body,
                )
                .await;
            r.unwrap_or_else(|e| panic!("provider {p}: {e}"));
            world.providers.insert(p, Some(i));
        }
        let openai = json!({
            "type": "openai",
            "base_url": world.fakes[0].base_url(),
            "admin_key": ADMIN,
            "project_id": PROJECT,
            "timeout": world.timeout,
        });
        let path = format!("providers/{OPENAI}");
        let r = world
            .engine
            .answer(crate::framework::Operation::Create, &path, openai)
            .await;
        r.unwrap_or_else(|e| panic!("provider {OPENAI}: {e}"));
        world.providers.insert(OPENAI, Some(0));
        world
    }

    /// A provider configuration at host `host`: OpenRouter with the management key.
    pub(super) fn provider_body(&self, host: usize) -> Value {
        json!({
            "type": "openrouter",
            "base_url": self.fakes[host].base_url(),
            "admin_key": ADMIN,
            "timeout": self.timeout,
        })
    }

    /// The host provider `p` points at (host 0 while it does not exist).
    pub(super) fn host_of(&self, p: &str) -> usize {
        self.providers.get(p).copied().flatten().unwrap_or(0)
    }

    /// Another mount at the same account made a key at `host`, named as the engine names its
    /// keys but for a key this mount does not hold: `reconcile` must leave it alone. The
    /// model counts it as a person's key (never proven to this engine).
    fn foreign_key(&mut self, host: usize) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let value = format!("sk-or-v1-{}{}", uuid::Uuid::new_v4().simple(), id);
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
        let name = format!("ai-keys-billing-{suffix}");
        self.fakes[host].add_openrouter_key_named(&id, &value, &name);
        self.persons.insert(
            id,
            PersonKey {
                value,
                proven: false,
            },
        );
    }

    /// A person makes a key at `host`; returns its id.
    pub(super) fn person_key(&mut self, host: usize) -> String {
        self.person_key_like(host, "")
    }

    /// A person makes a key at `host` whose value ends like `like` (so the provider's hint,
    /// OpenRouter's `label` of the first 5 and last 4 characters, is the same); returns its id.
    pub(super) fn person_key_like(&mut self, host: usize, like: &str) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut value = format!(
            "sk-or-v1-{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        if let Some(tail) = like
            .get(like.len().saturating_sub(4)..)
            .filter(|t| t.len() == 4)
        {
            value.truncate(value.len() - 4);
            value.push_str(tail);
        }
        self.fakes[host].add_openrouter_key(&id, &value);
        self.persons.insert(
            id.clone(),
            PersonKey {
                value,
                proven: false,
            },
        );
        id
    }

    /// A person deletes key `id` at `host` in the provider's console (the engine's later delete
    /// of it gets a 404): OpenRouter's delete, else (not one of its keys: a 404) OpenAI's.
    pub(super) async fn person_deletes(&mut self, host: usize, id: &str) {
        let base = self.fakes[host].base_url();
        let urls = [
            format!("{base}/api/v1/keys/{id}"),
            format!("{base}/v1/organization/projects/{PROJECT}/api_keys/{id}"),
        ];
        for url in urls {
            // Every request counts at the fake, refused or not.
            *self.external.entry((host, id.to_string())).or_default() += 1;
            let r = reqwest::Client::new()
                .delete(url)
                .bearer_auth(ADMIN)
                .send()
                .await;
            if r.is_ok_and(|r| r.status().is_success()) {
                return;
            }
        }
        panic!("a person's delete of {id} at host {host} failed");
    }

    /// Every fake back to normal answers.
    pub(super) fn heal(&self) {
        for f in &self.fakes {
            f.set_mode(Mode::Normal);
            f.set_admin_mode(Mode::Normal);
            f.set_stall_after_create(false);
            f.switch(|s| s.unavailable_after_create = false);
        }
    }

    /// The host that minted key `id`, if any did.
    pub(super) fn birth_host(&self, id: &str) -> Option<usize> {
        (0..self.fakes.len()).find(|&h| {
            self.fakes[h]
                .created_keys()
                .iter()
                .any(|(kid, _, _)| kid == id)
        })
    }

    /// The seed and every step so far, for a failure message.
    pub(super) fn replay(&self) -> String {
        let mut out = format!(
            "reproduce with AI_KEYS_TEST_SEED={} (model sequence seed); steps:\n",
            self.seed
        );
        for (i, s) in self.steps.iter().enumerate() {
            out.push_str(&format!("  {:>3}. {s}\n", i + 1));
        }
        out
    }
}
