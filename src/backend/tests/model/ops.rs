//! The operations the model draws, and how each is sent to the engine (the faults injected into
//! them are in [`super::faults`]). Requests the engine refuses (a promote with nothing pending, say) are part of the
//! model: a refusal must change nothing, which the invariants then check like any other step.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::clock;
use super::driver::{Instance, Outcome};
use super::faults::{inject, Fault, Faults};
use super::leaks::{self, LeakBy};

use super::values::{source, with_value};
pub(super) use super::values::{IdMode, Source};
use super::world::{World, KEYS, OPENAI, PROVIDERS};
use super::{promises, watch};
use crate::backend::record;
use crate::framework::{Error, Operation};

#[derive(Debug, Clone)]
pub(super) enum Op {
    Create {
        key: &'static str,
        provider: &'static str,
        source: Source,
    },
    Stage {
        key: &'static str,
        source: Source,
    },
    Test {
        key: &'static str,
    },
    Promote {
        key: &'static str,
        grace: u32,
        force: bool,
    },
    Rotate {
        key: &'static str,
        grace: u32,
        source: Source,
    },
    Rollback {
        key: &'static str,
    },
    Finalize {
        key: &'static str,
    },
    Extend {
        key: &'static str,
    },
    Delete {
        key: &'static str,
    },
    MoveProvider {
        provider: &'static str,
        host: usize,
    },
    DeleteProvider {
        provider: &'static str,
    },
    CreateProvider {
        provider: &'static str,
        host: usize,
    },
    /// The periodic tick: as the host runs it, or recovering every intent (`immediate`).
    Tick {
        immediate: bool,
    },
    /// Grace windows end and intents age ([`clock::advance`]).
    Advance,
    /// A person deletes the `pick`-th active key at `host` in the provider's console.
    PersonDeletes {
        host: usize,
        pick: usize,
    },
    /// A person disables the current key of `key` at its host ([`watch::person_disables`]).
    PersonDisables {
        key: &'static str,
    },
    /// `keys/` update: `health_check_interval` 30s (`short`) or the schedule's (1h), and
    /// `auto_rotate`.
    Watch {
        key: &'static str,
        short: bool,
        auto_rotate: bool,
    },
    /// `exposed`: the `pick`-th version of `key` reported leaked, `by` value or fingerprint.
    Exposed {
        key: &'static str,
        pick: usize,
        by: LeakBy,
    },
    /// `reconcile`.
    Reconcile {
        dry_run: bool,
    },
}

/// A step made: what, under which fault, and how it ended ([`apply`]'s account).
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub op: Op,
    pub fault: Fault,
    /// How it ended; what a known defect's matcher reads (none is listed now).
    #[allow(dead_code)]
    pub outcome: String,
}

/// Draws the next step; `existing` are the keys stored now.
pub(super) fn draw(rng: &mut StdRng, existing: &[String], faults: Faults) -> Op {
    let key = KEYS[rng.random_range(0..KEYS.len())];
    let provider = PROVIDERS[rng.random_range(0..PROVIDERS.len())];
    if !existing.iter().any(|k| k == key) && rng.random_bool(0.8) {
        let source = source(rng);
        let provider = if rng.random_bool(0.25) {
            OPENAI
        } else {
            provider
        };
        return Op::Create {
            key,
            provider,
            source,
        };
    }
    let grace = if rng.random_bool(0.5) { 0 } else { 3600 };
    // The newer operations, a fifth of the steps.
    if rng.random_bool(0.2) {
        return match rng.random_range(0..10) {
            0..=2 => Op::Exposed {
                key,
                pick: rng.random_range(0..8),
                by: [
                    LeakBy::Value,
                    LeakBy::Fingerprint,
                    LeakBy::Sha256,
                    LeakBy::Unknown,
                ][rng.random_range(0..4)],
            },
            3 | 4 => Op::Reconcile {
                dry_run: rng.random_bool(0.4),
            },
            5 | 6 => Op::PersonDisables { key },
            _ => Op::Watch {
                key,
                short: rng.random_bool(0.7),
                auto_rotate: rng.random_bool(0.5),
            },
        };
    }
    let n = rng.random_range(0..100);
    if (63..=73).contains(&n) && !faults.provider_changes {
        return Op::Tick { immediate: true };
    }
    match n {
        0..=11 => Op::Stage {
            key,
            source: source(rng),
        },
        12..=19 => Op::Test { key },
        20..=29 => Op::Promote {
            key,
            grace,
            force: rng.random_bool(0.3),
        },
        30..=41 => {
            // rotate/ takes no provider_key_id: a person's value goes without one.
            let source = match source(rng) {
                Source::Person(_) => Source::Person(IdMode::Without),
                s => s,
            };
            Op::Rotate { key, grace, source }
        }
        42..=47 => Op::Rollback { key },
        48..=52 => Op::Finalize { key },
        53..=56 => Op::Extend { key },
        57..=62 => Op::Delete { key },
        63..=67 => Op::MoveProvider {
            provider,
            host: rng.random_range(0..2),
        },
        68..=70 => Op::DeleteProvider { provider },
        71..=73 => Op::CreateProvider {
            provider,
            host: rng.random_range(0..2),
        },
        74..=83 => Op::Tick {
            immediate: rng.random_bool(0.6),
        },
        84..=93 => Op::Advance,
        _ => Op::PersonDeletes {
            host: rng.random_range(0..2),
            pick: rng.random_range(0..8),
        },
    }
}

/// The names of the keys stored now.
pub(super) async fn existing(engine: &Instance) -> Vec<String> {
    record::list_names(engine.cached.as_ref())
        .await
        .expect("list keys")
}

/// The provider key `key` names (read from its record; `p1` if none).
async fn provider_of(w: &World, key: &str) -> String {
    match record::load(w.engine.cached.as_ref(), key).await {
        Ok(Some(e)) => e.key.provider.unwrap_or_else(|| "p1".into()),
        _ => "p1".into(),
    }
}

/// The request of `op` (`None`: not a request), with the model's side effects done.
async fn request(w: &mut World, op: &Op) -> Option<(Operation, String, Value)> {
    let mut body = Map::new();
    let (operation, path) = match *op {
        Op::Create {
            key,
            provider,
            source,
        } => {
            body.insert("provider".into(), json!(provider));
            with_value(w, &mut body, provider, source);
            (Operation::Create, format!("keys/{key}"))
        }
        Op::Stage { key, source } => {
            let provider = provider_of(w, key).await;
            with_value(w, &mut body, &provider, source);
            (Operation::Update, format!("stage/{key}"))
        }
        Op::Test { key } => (Operation::Update, format!("test/{key}")),
        Op::Promote { key, grace, force } => {
            body.insert("grace_period".into(), json!(grace));
            body.insert("force".into(), json!(force));
            (Operation::Update, format!("promote/{key}"))
        }
        Op::Rotate { key, grace, source } => {
            body.insert("grace_period".into(), json!(grace));
            let provider = provider_of(w, key).await;
            with_value(w, &mut body, &provider, source);
            (Operation::Update, format!("rotate/{key}"))
        }
        Op::Rollback { key } => (Operation::Update, format!("rollback/{key}")),
        Op::Finalize { key } => (Operation::Update, format!("finalize/{key}")),
        Op::Extend { key } => {
            body.insert("grace_period".into(), json!(7200));
            (Operation::Update, format!("extend/{key}"))
        }
        Op::Delete { key } => (Operation::Delete, format!("keys/{key}")),
        Op::MoveProvider { provider, host } | Op::CreateProvider { provider, host } => {
            let Value::Object(b) = w.provider_body(host) else {
                unreachable!("an object")
            };
            body = b;
            (Operation::Update, format!("providers/{provider}"))
        }
        Op::DeleteProvider { provider } => (Operation::Delete, format!("providers/{provider}")),
        Op::Tick { immediate } => {
            if immediate {
                body.insert("immediate".into(), json!(true));
            }
            (Operation::Rollback, String::new())
        }
        Op::Advance => {
            clock::advance(&w.engine).await;
            return None;
        }
        Op::PersonDeletes { host, pick } => {
            let active = w.fakes[host].active_created_keys();
            if !active.is_empty() {
                let id = active[pick % active.len()].clone();
                w.person_deletes(host, &id).await;
            }
            return None;
        }
        Op::PersonDisables { key } => {
            watch::person_disables(w, key).await;
            return None;
        }
        Op::Watch {
            key,
            short,
            auto_rotate,
        } => {
            let interval = if short { "30s" } else { "" };
            body.insert("health_check_interval".into(), json!(interval));
            body.insert("auto_rotate".into(), json!(auto_rotate));
            (Operation::Update, format!("keys/{key}"))
        }
        Op::Exposed { key, pick, by } => {
            let Value::Object(b) = leaks::body(w, key, pick, by).await else {
                unreachable!("an object")
            };
            body = b;
            (Operation::Update, "exposed".to_string())
        }
        Op::Reconcile { dry_run } => {
            body.insert("dry_run".into(), json!(dry_run));
            (Operation::Update, "reconcile".to_string())
        }
    };
    Some((operation, path, Value::Object(body)))
}

/// A short account of an answer (status and the start of a refusal's message).
fn describe(r: &Result<Value, Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => {
            let text: String = e.to_string().chars().take(90).collect();
            format!("{} {text}", e.status())
        }
    }
}

/// Runs `op` under `fault`, then restarts the engine if it died; records the step and returns
/// how it ended (`ok`, `done`, `killed`, or a refusal's status and message).
pub(super) async fn apply(w: &mut World, op: &Op, fault: Fault) -> String {
    w.findings.clear();
    let before = promises::before(w, op).await;
    let req = request(w, op).await;
    let mut answer = None;
    let outcome = match req {
        None => "done".to_string(),
        Some((operation, path, body)) => {
            let operation = match operation {
                Operation::Create | Operation::Update => w.engine.write_operation(&path).await,
                other => other,
            };
            if !matches!(fault, Fault::None) {
                w.stats.faults += 1;
            }
            inject(w, fault);
            let kill = match fault {
                Fault::Kill(n) => Some(n),
                _ => None,
            };
            let refuse = match fault {
                Fault::WriteFails(n) => Some(n),
                _ => None,
            };
            let outcome = w.engine.call(operation, &path, body, kill, refuse).await;
            w.heal();
            match outcome {
                Outcome::Done(r) => {
                    match r.as_ref().map_err(Error::status) {
                        Ok(_) => w.stats.answered_2xx += 1,
                        Err(s) if s < 500 => w.stats.answered_4xx += 1,
                        Err(_) => w.stats.answered_5xx += 1,
                    }
                    let text = describe(&r);
                    answer = r.ok();
                    text
                }
                Outcome::Killed => "killed".into(),
            }
        }
    };
    match op {
        Op::MoveProvider { provider, host } | Op::CreateProvider { provider, host }
            if outcome == "ok" =>
        {
            w.providers.insert(*provider, Some(*host));
        }
        Op::DeleteProvider { provider } if outcome == "ok" => {
            w.providers.insert(*provider, None);
        }
        _ => {}
    }
    let restarted = w.engine.is_dead();
    if restarted {
        w.engine.kill();
        w.engine = Instance::boot(w.storage.clone()).await;
        w.stats.kills += 1;
    }
    promises::after(w, op, fault, before, &outcome, answer.as_ref()).await;
    w.stats.steps += 1;
    let note = if restarted { " (restarted)" } else { "" };
    w.steps
        .push(format!("{op:?} fault={fault:?} -> {outcome}{note}"));
    outcome
}
