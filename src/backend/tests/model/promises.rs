//! The promises of single steps, checked around them: what is seen before the step is sent,
//! and judged once it ended (after a restart, if it killed the process). The violations found
//! go to [`World::findings`], which [`super::invariants::check`] reports with the rest.

use serde_json::Value;

use super::faults::Fault;
use super::ops::Op;
use super::watch::Refused;
use super::world::World;
use super::{leaks, reconcile, watch};

/// What a step's check compares with.
pub(super) enum Before {
    Nothing,
    /// A tick: the current keys refused whose check is due.
    Tick(Vec<Refused>),
    /// A `reconcile`: its snapshot, and every current key refused.
    Reconcile(reconcile::Before, Vec<Refused>),
}

pub(super) async fn before(w: &World, op: &Op) -> Before {
    match op {
        Op::Tick { .. } => Before::Tick(watch::refused(w, true).await),
        Op::Reconcile { .. } => {
            Before::Reconcile(reconcile::before(w).await, watch::refused(w, false).await)
        }
        _ => Before::Nothing,
    }
}

/// Judges the step `op` made under `fault`, which ended as `outcome` (with `answer`, its data).
pub(super) async fn after(
    w: &mut World,
    op: &Op,
    fault: Fault,
    before: Before,
    outcome: &str,
    answer: Option<&Value>,
) {
    let clean = matches!(fault, Fault::None) && outcome == "ok";
    let mut found = Vec::new();
    match (op, before) {
        (Op::Exposed { .. }, _) => {
            if let Some(a) = answer {
                w.stats.exposed_ok += 1;
                leaks::promised(w, a).await;
            }
        }
        (Op::Tick { .. }, Before::Tick(refused)) if clean => {
            w.stats.refused_judged += refused.len();
            watch::flagged(w, &refused, "a tick without faults", &mut found).await;
        }
        (Op::Reconcile { dry_run }, Before::Reconcile(snapshot, refused)) => {
            reconcile::after(w, &snapshot, *dry_run, &mut found).await;
            w.stats.reconciled_ok += usize::from(answer.is_some());
            if clean && !dry_run {
                w.stats.refused_judged += refused.len();
                watch::flagged(w, &refused, "reconcile", &mut found).await;
            }
        }
        _ => {}
    }
    w.findings.extend(found);
}
