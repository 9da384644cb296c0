//! Where the values of new versions come from: the engine creates them at the provider, or a
//! person made them at the provider's host and gives them (with their own id, none, or another
//! key's id: mistakes the engine must not act on).

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::world::World;

/// Where a new value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// The engine creates it at the provider (no `value`).
    Engine,
    /// A person's key made at the provider's host, given as `value`.
    Person(IdMode),
}

/// What `provider_key_id` a person's key is given with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdMode {
    Without,
    /// Its own id (the engine may prove possession).
    Own,
    /// The id of another person's key at the same host (a mistake the engine must not act on).
    Other,
    /// The id of another person's key at the same host whose provider hint (OpenRouter's
    /// `label`) looks like the value's: a hint is not proof of possession.
    Lookalike,
}

pub(super) fn source(rng: &mut StdRng) -> Source {
    // Lookalike ids are rarer: each one is a person's key the engine must never revoke.
    match rng.random_range(0..10) {
        0..=2 => Source::Engine,
        3 | 4 => Source::Person(IdMode::Without),
        5 | 6 => Source::Person(IdMode::Own),
        7 | 8 => Source::Person(IdMode::Other),
        _ => Source::Person(IdMode::Lookalike),
    }
}

/// Adds `value` (and `provider_key_id`) for `source` to `body`, minting a person's key at the
/// host of `provider`.
pub(super) fn with_value(
    w: &mut World,
    body: &mut Map<String, Value>,
    provider: &str,
    source: Source,
) {
    let Source::Person(mode) = source else {
        return;
    };
    let host = w.host_of(provider);
    let id = w.person_key(host);
    body.insert("value".into(), json!(w.persons[&id].value));
    match mode {
        IdMode::Without => {}
        IdMode::Own => {
            body.insert("provider_key_id".into(), json!(id));
            if let Some(p) = w.persons.get_mut(&id) {
                p.proven = true;
            }
        }
        IdMode::Other => {
            let decoy = w.person_key(host);
            body.insert("provider_key_id".into(), json!(decoy));
        }
        IdMode::Lookalike => {
            let value = w.persons[&id].value.clone();
            let decoy = w.person_key_like(host, &value);
            body.insert("provider_key_id".into(), json!(decoy));
        }
    }
}
