//! The defects of today's engine that the invariants find, while their fixes are merged: each
//! names the invariants it breaks and the steps that set it off, so that a violation it explains
//! stops its sequence and is counted, and any other violation fails the run. Remove an entry
//! once its fix is in (`AI_KEYS_MODEL_STRICT=1` ignores the list).

use super::faults::Fault;
use super::invariants::{Invariant, Violation};
use super::ops::{IdMode, Op, Source, Step};

/// A defect known to break some invariants.
pub(super) struct Known {
    /// Short name, for the figures.
    pub name: &'static str,
    /// What goes wrong.
    pub defect: &'static str,
    pub invariants: &'static [Invariant],
    /// Whether the sequence of seed `seed` (its hosts: [`lagging`]) and its `steps` so far
    /// contain what sets it off.
    pub applies: fn(u64, &[Step]) -> bool,
}

/// A provider configuration moved to another host, or was deleted (and made again), while
/// versions, intents or revocations still belonged to it.
fn provider_changed(_seed: u64, steps: &[Step]) -> bool {
    steps.iter().any(|s| {
        matches!(
            s.op,
            Op::MoveProvider { .. } | Op::CreateProvider { .. } | Op::DeleteProvider { .. }
        ) && s.outcome.starts_with("ok")
    })
}

/// A key delete was killed after some of its writes, or one of its writes failed.
fn delete_interrupted(_seed: u64, steps: &[Step]) -> bool {
    steps.iter().any(|s| {
        matches!(s.op, Op::Delete { .. })
            && match s.fault {
                Fault::Kill(_) => s.outcome == "killed",
                Fault::WriteFails(_) => !s.outcome.starts_with("ok"),
                _ => false,
            }
    })
}

/// Whether the hosts of the sequence of seed `seed` have lagging lists ([`World::new`]).
///
/// [`World::new`]: super::world::World::new
pub(super) fn lagging(seed: u64) -> bool {
    seed % 3 == 0
}

/// A create was interrupted (killed, answered 503 or nothing after making the key, or a write
/// after it failed) at hosts whose lists lag.
fn create_interrupted_under_lag(seed: u64, steps: &[Step]) -> bool {
    lagging(seed)
        && steps.iter().any(|s| {
            matches!(
                s.fault,
                Fault::Kill(_)
                    | Fault::CreatedThen503
                    | Fault::CreatedThenStall
                    | Fault::AdminStall
                    | Fault::WriteFails(_)
            )
        })
}

/// A person's key was accepted with the id of another key whose provider hint looks alike.
fn lookalike_id_accepted(_seed: u64, steps: &[Step]) -> bool {
    steps.iter().any(|s| {
        let lookalike = Source::Person(IdMode::Lookalike);
        matches!(
            s.op,
            Op::Create { source, .. } | Op::Stage { source, .. } if source == lookalike
        ) && s.outcome.starts_with("ok")
    })
}

pub(super) const KNOWN: &[Known] = &[
    Known {
        name: "revocation_follows_provider_config",
        defect: "a version records only the provider configuration's name, not where its key was \
                 born: after the configuration's base_url changes (or it is deleted and made again \
                 elsewhere), revocations and create-intent recovery go to the new host, which \
                 answers 404, and the engine takes the 404 as `confirmed`: the key stays alive \
                 at its origin with no intent to kill it (owner: origin)",
        invariants: &[
            Invariant::OwnedKeysClaimed,
            Invariant::RevokesOnlyOwnedAtOrigin,
            Invariant::ConfirmedIsDead,
            Invariant::ReportAgrees,
        ],
        applies: provider_changed,
    },
    Known {
        name: "interrupted_delete_leaves_no_current",
        defect: "keys/ delete writes the record with every version destroyed, then archives the \
                 history, then removes the record: a crash or a failed write in between (the \
                 delete answers 500) leaves a stored key with no current version \
                 (workflows/keys.rs `delete`; its comment expects a live record)",
        invariants: &[Invariant::OneCurrent],
        applies: delete_interrupted,
    },
    Known {
        name: "create_recovery_gives_up_on_list_lag",
        defect: "recovery of a create intent without the provider's id looks the key up by name \
                 once; when the provider's list does not show the new key yet (documented list \
                 lag), it settles the intent and the key stays alive at the provider with no \
                 record or intent (recovery.rs `recover_create`; owner: recovery)",
        invariants: &[Invariant::OwnedKeysClaimed],
        applies: create_interrupted_under_lag,
    },
    Known {
        name: "hint_taken_as_possession",
        defect: "an imported key's provider_key_id is accepted as the engine's to revoke when the \
                 provider's hint (OpenRouter `label`: first 5 and last 4 characters) matches the \
                 value, so retiring the version deletes another person's key whose hint looks \
                 alike (workflows/keys.rs sets provider_key_verified for any id given; owner: \
                 ownership)",
        invariants: &[Invariant::RevokesOnlyOwnedAtOrigin],
        applies: lookalike_id_accepted,
    },
];

/// The known defect that explains violation `v` after `steps`, if any.
pub(super) fn explains(seed: u64, steps: &[Step], v: &Violation) -> Option<&'static Known> {
    KNOWN
        .iter()
        .find(|k| k.invariants.contains(&v.invariant) && (k.applies)(seed, steps))
}
