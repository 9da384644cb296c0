//! Shrinking a failing sequence to a short one: steps are dropped one at a time (last first),
//! then faults, while a replay of the rest, on a fresh world, still shows what `target` looks
//! for. Replays
//! run the recorded operations and faults, not the generator, so dropping a step changes
//! nothing else.

use super::faults::Fault;
use super::invariants::{self, Violation};
use super::ops::{self, Step};
use super::world::World;

/// Replays `steps` until `target` holds of the steps so far and their violations; the world
/// then, or `None` if it never held (or another violation stopped the replay first).
async fn replay(
    seed: u64,
    timeout: u64,
    steps: &[Step],
    target: &impl Fn(&[Step], &[Violation]) -> bool,
) -> Option<(World, Vec<Violation>)> {
    let mut w = World::new(seed, timeout).await;
    let mut done = Vec::new();
    for s in steps {
        let outcome = ops::apply(&mut w, &s.op, s.fault).await;
        done.push(Step {
            op: s.op.clone(),
            fault: s.fault,
            outcome,
        });
        let violations = invariants::check(&w).await;
        if target(&done, &violations) {
            return Some((w, violations));
        }
        if !violations.is_empty() {
            return None;
        }
    }
    None
}

/// The shortest step list found for which `target` still holds, printed with its violations
/// and steps; `None` when a replay of all of `steps` no longer shows it.
pub(super) async fn shrink(
    seed: u64,
    timeout: u64,
    steps: &[Step],
    target: impl Fn(&[Step], &[Violation]) -> bool,
) -> Option<String> {
    let mut kept: Vec<Step> = steps.to_vec();
    replay(seed, timeout, &kept, &target).await?;
    let mut i = kept.len();
    while i > 0 {
        i -= 1;
        let mut fewer = kept.clone();
        fewer.remove(i);
        if replay(seed, timeout, &fewer, &target).await.is_some() {
            kept = fewer;
        }
    }
    for i in 0..kept.len() {
        if matches!(kept[i].fault, Fault::None) {
            continue;
        }
        let mut calmer = kept.clone();
        calmer[i].fault = Fault::None;
        if replay(seed, timeout, &calmer, &target).await.is_some() {
            kept = calmer;
        }
    }
    let (w, found) = replay(seed, timeout, &kept, &target).await?;
    let details: Vec<String> = found
        .iter()
        .map(|v| format!("  {:?}: {}", v.invariant, v.detail))
        .collect();
    Some(format!(
        "{} steps:\n{}\n{}",
        w.steps.len(),
        details.join("\n"),
        w.replay()
    ))
}
