//! The promises every reliability test checks at its end, against the engine's records and
//! the fake provider's own list of keys:
//! - each key has exactly one `current` version (at most one `pending`), whose value `creds/`
//!   serves and the provider accepts;
//! - its history replays as a valid state-machine sequence ([`replay`]) that ends in the
//!   states the record shows (no lost, duplicated or invented event);
//! - every key that is active at the provider is a live version here (no orphan), and every
//!   live version the engine created is active there (no lost key);
//! - no value the provider has revoked is served by `creds/` or accepted by `verify/`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::replay::{replay, Replayed};
use crate::support::checks::read_ok;
use crate::support::fake_provider::FakeProvider;
use crate::support::Client;

/// `sha256:` + the first 16 hex digits, as the engine shows a version's `fingerprint`.
pub(crate) fn fingerprint(value: &str) -> String {
    format!(
        "sha256:{}",
        &hex::encode(Sha256::digest(value.as_bytes()))[..16]
    )
}

/// The whole history of `name`, oldest event first (every page of `history/`).
pub(crate) async fn full_history(client: &Client, name: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let path = match &after {
            None => format!("ai-keys/history/{name}?limit=1000"),
            Some(a) => format!("ai-keys/history/{name}?limit=1000&after={a}"),
        };
        let page = read_ok(client, &path).await;
        all.extend(page["events"].as_array().cloned().unwrap_or_default());
        match page["next_after"].as_str() {
            Some(a) if !a.is_empty() => after = Some(a.to_string()),
            _ => {
                all.reverse();
                return all;
            }
        }
    }
    panic!("history/{name} has more than 1000 pages");
}

/// What [`check_key`] established about one key.
pub(crate) struct KeyFacts {
    pub replayed: Replayed,
    /// Fingerprints of the live (pending, current, previous) versions.
    pub live: BTreeSet<String>,
}

/// Checks one key's record, history and `creds/` against each other and `fake`; panics with
/// the evidence on the first broken promise.
pub(crate) async fn check_key(client: &Client, fake: &FakeProvider, name: &str) -> KeyFacts {
    let record = read_ok(client, &format!("ai-keys/keys/{name}")).await;
    let versions = record["versions"].as_object().expect("versions map");
    let in_state = |s: &str| {
        versions
            .iter()
            .filter(|(_, v)| v["state"] == s)
            .map(|(n, _)| n.parse::<u64>().unwrap())
            .collect::<Vec<_>>()
    };
    let current = in_state("current");
    assert_eq!(
        current.len(),
        1,
        "{name}: not exactly one current version: {record:#}"
    );
    assert_eq!(record["current_version"], current[0], "{name}: {record:#}");
    let pending = in_state("pending");
    assert!(
        pending.len() <= 1,
        "{name}: two pending versions: {record:#}"
    );
    assert_eq!(
        record["pending_version"].as_u64(),
        pending.first().copied(),
        "{name}: {record:#}"
    );
    assert!(in_state("previous").len() <= 1, "{name}: {record:#}");

    let history = full_history(client, name).await;
    let replayed =
        replay(&history).unwrap_or_else(|why| panic!("{name}: the history does not replay: {why}"));
    for (n, v) in versions {
        let n: u32 = n.parse().unwrap();
        let replayed_state = replayed.states.get(&n).map(|s| s.api());
        assert_eq!(
            replayed_state,
            v["state"].as_str(),
            "{name}: version {n} is {} in the record but {replayed_state:?} by its history",
            v["state"]
        );
    }
    for (n, st) in &replayed.states {
        if st.api() != "revoked" && st.api() != "failed" {
            assert!(
                versions.contains_key(&n.to_string()),
                "{name}: history says version {n} is {st:?}; the record has no such version"
            );
        }
    }

    let creds = read_ok(client, &format!("ai-keys/creds/{name}")).await;
    let current_value = creds["api_key"].as_str().expect("api_key").to_string();
    let cur = &versions[&current[0].to_string()];
    assert_eq!(
        fingerprint(&current_value),
        cur["fingerprint"].as_str().unwrap(),
        "{name}: creds/ serves another value than the current version's"
    );
    assert!(
        fake.is_valid_key(&current_value),
        "{name}: the provider does not accept the current version {} ({})",
        current[0],
        cur["fingerprint"]
    );
    let live = versions
        .values()
        .filter(|v| {
            matches!(
                v["state"].as_str(),
                Some("pending" | "current" | "previous")
            )
        })
        .map(|v| v["fingerprint"].as_str().unwrap().to_string())
        .collect();
    KeyFacts { replayed, live }
}

/// Keys the fake created that disagree with the engine: `(orphans, lost)`. An orphan is active
/// at the provider but no live version here; a lost key is a live version here that the
/// provider has revoked. Both lists hold provider key ids.
pub(crate) fn provider_disagreements(
    fake: &FakeProvider,
    live: &BTreeSet<String>,
) -> (Vec<String>, Vec<String>) {
    let mut orphans = Vec::new();
    let mut lost = Vec::new();
    for (id, value, active) in fake.created_keys() {
        let here = live.contains(&fingerprint(&value));
        if active && !here {
            orphans.push(id);
        } else if !active && here {
            lost.push(id);
        }
    }
    (orphans, lost)
}

/// Whether the keys `names` (read through `client`) and the fake agree: no orphan, no lost key
/// (see [`provider_disagreements`]). False while a key cannot be read (a node still starting).
pub(crate) async fn agrees_with_provider(
    client: &Client,
    fake: &FakeProvider,
    names: &[impl AsRef<str>],
) -> bool {
    let mut live = BTreeSet::new();
    for name in names {
        let r = client
            .read(&format!("ai-keys/keys/{}", name.as_ref()))
            .await;
        if r.status != 200 {
            return false;
        }
        for v in r.data()["versions"].as_object().unwrap().values() {
            if matches!(
                v["state"].as_str(),
                Some("pending" | "current" | "previous")
            ) {
                live.insert(v["fingerprint"].as_str().unwrap().to_string());
            }
        }
    }
    let (orphans, lost) = provider_disagreements(fake, &live);
    orphans.is_empty() && lost.is_empty()
}

/// Asserts that no value the fake created and has since revoked is served by `creds/` of any
/// of `keys` or accepted by their `verify/`. Returns how many values were checked.
pub(crate) async fn assert_revoked_stay_dead(
    client: &Client,
    fake: &FakeProvider,
    keys: &[String],
) -> usize {
    let dead: Vec<String> = fake
        .created_keys()
        .into_iter()
        .filter(|(_, _, active)| !active)
        .map(|(_, value, _)| value)
        .collect();
    let mut served = BTreeMap::new();
    for k in keys {
        let c = read_ok(client, &format!("ai-keys/creds/{k}")).await;
        for field in ["api_key", "previous_api_key"] {
            if let Some(v) = c[field].as_str() {
                served.insert(v.to_string(), k.clone());
            }
        }
    }
    for value in &dead {
        assert!(
            !served.contains_key(value),
            "creds/{} serves a value the provider revoked ({})",
            served[value],
            fingerprint(value)
        );
        for k in keys {
            let reply = read_verify(client, k, value).await;
            assert_eq!(
                reply["valid"],
                false,
                "verify/{k} accepts a value the provider revoked ({}): {reply}",
                fingerprint(value)
            );
        }
    }
    dead.len()
}

async fn read_verify(client: &Client, key: &str, value: &str) -> Value {
    let reply = client
        .write(&format!("ai-keys/verify/{key}"), json!({ "value": value }))
        .await;
    assert_eq!(reply.status, 200, "verify/{key}: {}", reply.text);
    reply.data().clone()
}
