//! `reconcile` in the model, and the invariant (g) it must keep: during a `reconcile` step no
//! delete reaches a key that a live version or a create intent claimed before it (unless the
//! step retired that version itself: a refused current key rotated with `auto_rotate`), and a
//! dry run sends no delete and writes nothing. Another mount's keys at the hosts (named in the
//! engine's way, `ai-keys-<key>-<suffix>`, for a key this mount does not hold) and people's
//! keys are never touched: invariant (b) already fails on any delete of them.

use std::collections::{BTreeMap, BTreeSet};

use super::invariants::{stored, Invariant, Violation};
use super::world::World;
use crate::framework::Storage;
use crate::rotation::VersionState;

/// What the step's check compares with: taken before a `reconcile` is sent.
pub(super) struct Before {
    /// Ids claimed by a live version or a create intent.
    claimed: BTreeSet<String>,
    /// Deletes each host received, by key id.
    deletes: Vec<BTreeMap<String, usize>>,
    /// Every stored entry (for a dry run).
    entries: BTreeMap<String, Vec<u8>>,
}

fn deletes(w: &World) -> Vec<BTreeMap<String, usize>> {
    w.fakes
        .iter()
        .map(|f| {
            f.created_keys()
                .into_iter()
                .map(|(id, _, _)| {
                    let n = f.mutation_requests(&id);
                    (id, n)
                })
                .collect()
        })
        .collect()
}

async fn entries(w: &World) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for k in w.storage.keys() {
        if let Ok(Some(v)) = w.storage.get(&k).await {
            out.insert(k, v);
        }
    }
    out
}

/// The ids live versions and create intents claim now.
async fn claimed(w: &World) -> BTreeSet<String> {
    let s = stored(w.storage.as_ref()).await;
    let mut ids: BTreeSet<String> = s
        .creates
        .iter()
        .filter_map(|i| i.provider_key_id.clone())
        .collect();
    for e in &s.records {
        ids.extend(
            e.key
                .versions
                .versions
                .values()
                .filter(|v| {
                    matches!(
                        v.state,
                        VersionState::Current | VersionState::Previous | VersionState::Pending
                    )
                })
                .filter_map(|v| v.provider_key_id.clone()),
        );
    }
    ids
}

pub(super) async fn before(w: &World) -> Before {
    Before {
        claimed: claimed(w).await,
        deletes: deletes(w),
        entries: entries(w).await,
    }
}

/// (g) after a `reconcile` step (`dry_run` as sent).
pub(super) async fn after(w: &World, before: &Before, dry_run: bool, out: &mut Vec<Violation>) {
    let s = stored(w.storage.as_ref()).await;
    let retired = |id: &str| {
        s.records.iter().any(|e| {
            e.key.versions.versions.values().any(|v| {
                v.provider_key_id.as_deref() == Some(id)
                    && matches!(v.state, VersionState::Revoked | VersionState::Failed)
            })
        })
    };
    for (h, now) in deletes(w).iter().enumerate() {
        for (id, n) in now {
            let was = before.deletes[h].get(id).copied().unwrap_or(0);
            if *n <= was {
                continue;
            }
            if dry_run {
                out.push(Violation {
                    invariant: Invariant::ReconcileSparesClaimed,
                    detail: format!("a dry run sent host {h} a delete of {id}"),
                });
            } else if before.claimed.contains(id) && !retired(id) {
                out.push(Violation {
                    invariant: Invariant::ReconcileSparesClaimed,
                    detail: format!(
                        "reconcile sent host {h} a delete of {id}, which a live version or a \
                         create intent claimed"
                    ),
                });
            }
        }
    }
    if dry_run {
        let after = entries(w).await;
        let changed: Vec<&String> = after
            .iter()
            .filter(|(k, v)| before.entries.get(*k) != Some(v))
            .map(|(k, _)| k)
            .chain(before.entries.keys().filter(|k| !after.contains_key(*k)))
            .collect();
        if !changed.is_empty() {
            out.push(Violation {
                invariant: Invariant::ReconcileSparesClaimed,
                detail: format!("a dry run changed stored entries {changed:?}"),
            });
        }
    }
}
