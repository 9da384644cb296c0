//! Health checks of current keys in the model: a person disabling a key in the provider's
//! console (OpenRouter's `disabled`, so its key test answers 401), keys given a short
//! `health_check_interval` and `auto_rotate` (the `Watch` step), and the invariant (h): after a
//! tick without faults, every current key whose check was due and that its provider refuses
//! (disabled, deleted, or unknown at the host its provider configuration points at now) is
//! flagged (`rejected_since`) or no longer current (rotated, with `auto_rotate`); after
//! `reconcile` (not a dry run) the same holds of every current key, due or not.

use chrono::{TimeDelta, Utc};
use serde_json::Value;

use super::invariants::{Invariant, Violation};
use super::world::World;
use crate::backend::record;
use crate::framework::Operation;
use crate::rotation::VersionState;

/// A current version the provider refuses now, whose check a tick must make.
pub(super) struct Refused {
    key: String,
    version: u32,
    why: String,
    /// With `auto_rotate`, nothing pending and no back-off running: the step must rotate it
    /// or count a failed attempt; the attempts failed so far.
    rotates: Option<u32>,
}

/// A person disables the key of `key`'s current version at the host that holds it.
pub(super) async fn person_disables(w: &mut World, key: &str) {
    let Ok(Some(e)) = record::load(w.engine.cached.as_ref(), key).await else {
        return;
    };
    // OpenAI keys cannot be disabled (only deleted).
    if e.key.provider.as_deref() == Some(super::world::OPENAI) {
        return;
    }
    let Some(value) = e
        .key
        .versions
        .current()
        .and_then(|v| v.value.as_ref())
        .map(|v| v.expose().to_string())
    else {
        return;
    };
    for (h, fake) in w.fakes.iter().enumerate() {
        let held = fake
            .created_keys()
            .into_iter()
            .find(|(_, v, active)| *v == value && *active);
        if let Some((id, _, _)) = held {
            fake.set_openrouter_disabled(&id, true);
            w.disabled.insert((h, id));
            return;
        }
    }
}

/// Why the provider configuration `provider` refuses `value` now (`None`: it accepts it, or
/// the configuration does not exist, so a check finds the provider unavailable, no refusal).
fn refusal(w: &World, provider: &str, value: &str) -> Option<String> {
    let host = (*w.providers.get(provider)?)?;
    let held = w.fakes[host]
        .created_keys()
        .into_iter()
        .find(|(_, v, _)| v == value);
    match held {
        None => Some(format!("unknown at host {host}")),
        Some((_, _, false)) => Some(format!("deleted at host {host}")),
        Some((id, _, true)) if w.disabled.contains(&(host, id.clone())) => {
            Some(format!("{id} disabled at host {host}"))
        }
        Some(_) => None,
    }
}

/// The current versions the providers refuse now; with `due_only`, those whose health check is
/// due (a whole interval and its spread of a tenth since the engine's last call with the key).
pub(super) async fn refused(w: &World, due_only: bool) -> Vec<Refused> {
    let storage = w.engine.cached.as_ref();
    let mut out = Vec::new();
    let now = Utc::now();
    for name in record::list_names(storage).await.expect("list keys") {
        let Ok(Some(e)) = record::load(storage, &name).await else {
            continue;
        };
        let (Some(current), Some(provider)) = (e.key.versions.current(), e.key.provider.clone())
        else {
            continue;
        };
        let Some(value) = current.value.as_ref().map(|v| v.expose().to_string()) else {
            continue;
        };
        if due_only {
            let read = w
                .engine
                .answer(Operation::Read, &format!("keys/{name}"), Value::Null)
                .await;
            let interval = read.ok().and_then(|r| r["health_check_interval"].as_i64());
            let Some(interval) = interval.filter(|i| *i > 0) else {
                continue;
            };
            let base = [
                current.engine_call_time(),
                current.promoted_time,
                Some(current.created_time),
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(now);
            let wait = TimeDelta::seconds(interval + interval / 10 + 1);
            if base + wait > now {
                continue;
            }
        }
        if let Some(why) = refusal(w, &provider, &value) {
            let auto = &e.key.auto;
            let rotates = (e.key.auto_rotate
                && e.key.versions.pending().is_none()
                && auto.next_attempt_time.is_none_or(|t| t <= now))
            .then_some(auto.failures);
            out.push(Refused {
                key: name,
                version: current.number,
                why,
                rotates,
            });
        }
    }
    out
}

/// (h) after the step: each of `before` is flagged or no longer current.
pub(super) async fn flagged(w: &World, before: &[Refused], step: &str, out: &mut Vec<Violation>) {
    for r in before {
        let Ok(Some(e)) = record::load(w.engine.cached.as_ref(), &r.key).await else {
            continue;
        };
        let Some(v) = e.key.versions.versions.get(&r.version) else {
            continue;
        };
        if v.state != VersionState::Current {
            continue;
        }
        let broken = |what: &str| Violation {
            invariant: Invariant::RefusedCurrentFlagged,
            detail: format!(
                "{} version {} is current, its provider refuses it ({}), and {step} left it \
                 {what}",
                r.key, r.version, r.why
            ),
        };
        if v.rejected_since().is_none() {
            out.push(broken("unflagged"));
        } else if r.rotates.is_some_and(|f| e.key.auto.failures <= f) {
            out.push(broken(
                "current with auto_rotate, and counted no failed rotation",
            ));
        }
    }
}

/// Makes every current version's last call with its provider (and its creation and promotion)
/// ten minutes older, so that a short `health_check_interval` has passed.
pub(super) fn age(v: &mut crate::rotation::Version) -> bool {
    if v.state != VersionState::Current {
        return false;
    }
    let ten = TimeDelta::minutes(10);
    v.created_time -= ten;
    if let Some(t) = v.promoted_time.as_mut() {
        *t -= ten;
    }
    if let Some(t) = v.last_test.as_mut() {
        t.time -= ten;
    }
    if let Some(h) = v.health_check.as_mut() {
        h.last.time -= ten;
    }
    true
}
