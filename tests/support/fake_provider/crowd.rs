//! A crowded OpenAI project: keys that are not the engine's, around the keys it creates, so a
//! test can prove that crash recovery's lookups by name (every page of the list) and its
//! revocations touch the engine's own keys only.

use super::accounts::register;
use super::admin::mint;
use super::http::hex;
use super::FakeProvider;

/// The keys a test put around the engine's (see [`FakeProvider::crowd_openai_project`]).
pub struct Crowd {
    ids: Vec<String>,
}

impl FakeProvider {
    /// Fills OpenAI project `project` with keys that are not the engine's, for managed key
    /// `key`: a person's key; another engine's keys in its own service account, named like
    /// the names the engine gives `key`'s keys (`ai-keys-<key>-` and twelve other hex digits,
    /// that prefix with a longer suffix, and a shorter one); and a previous-release-style
    /// account of its own named like them. All valid and listed at once.
    pub fn crowd_openai_project(&self, project: &str, key: &str) -> Crowd {
        let mut ids = Vec::new();
        let value = |tag: &str| format!("sk-crowd-{tag}-{}", hex(32));
        let id = |tag: &str| format!("key_crowd{tag}{}", hex(12));

        let person = id("person");
        self.add_openai_key(project, &person, &value("person"));
        ids.push(person);

        let other_engine = format!("svc_acct_{}", hex(24));
        let account = format!("vault-ai-keys-oa-{}", hex(12));
        register(&mut self.lock(), project, &other_engine, &account, "member");
        let names = [
            format!("ai-keys-{key}-{}", hex(12)),
            format!("ai-keys-{key}-{}", hex(12)),
            format!("ai-keys-{key}-{}-x", hex(12)),
            format!("ai-keys-{key}-{}", hex(6)),
            format!("ai-keys-{key}x-{}", hex(12)),
        ];
        for (n, name) in names.iter().enumerate() {
            let kid = id(&format!("engine{n}"));
            let owner = format!("{project}/{other_engine}");
            mint(&self.state, kid.clone(), value("engine"), owner, name);
            self.lock().key_names.insert(kid.clone(), name.clone());
            ids.push(kid);
        }

        let legacy = id("legacy");
        let account = format!("ai-keys-{key}-{}", hex(12));
        self.add_legacy_openai_key(project, &account, &legacy, &value("legacy"));
        ids.push(legacy);
        Crowd { ids }
    }
}

impl Crowd {
    /// The crowd's provider key ids.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// Whether `id` is one of the crowd's keys.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i == id)
    }

    /// Panics unless every key of the crowd is still active and no request tried to change one.
    #[track_caller]
    pub fn assert_untouched(&self, fake: &FakeProvider) {
        for id in &self.ids {
            assert!(fake.is_active(id), "a key of the crowd was revoked: {id}");
            assert_eq!(
                fake.mutation_requests(id),
                0,
                "a request tried to change a key of the crowd: {id}"
            );
        }
    }
}
