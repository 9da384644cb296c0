//! What the crash loop checks at the provider after the recovery: no orphan or lost key but
//! the crowd's, the live keys the records claim, the crowd untouched, and how many unrecorded
//! keys the recovery revoked.

use std::collections::BTreeSet;

use crate::providers::{claimed_provider_keys, history_events};
use crate::reliability::invariants::provider_disagreements;
use crate::support::fake_provider::{Crowd, FakeProvider};
use crate::support::Client;

/// [`provider_disagreements`] without the crowd's keys (never the engine's).
pub(super) fn disagreements(
    fake: &FakeProvider,
    live: &BTreeSet<String>,
    crowds: &[Crowd],
) -> (Vec<String>, Vec<String>) {
    let (orphans, lost) = provider_disagreements(fake, live);
    let ours = |id: &String| !crowds.iter().any(|c| c.contains(id));
    (
        orphans.into_iter().filter(ours).collect(),
        lost.into_iter().filter(ours).collect(),
    )
}

/// After the recovery: the provider's live keys (the crowd's aside) are exactly those the
/// records claim, and the crowd is untouched. Returns how many unrecorded keys the recovery
/// revoked, as the keys' histories tell.
pub(super) async fn recovery_accounting(
    client: &Client,
    fake: &FakeProvider,
    names: &[String],
    crowds: &[Crowd],
) -> usize {
    let mut live: Vec<String> = fake
        .active_created_keys()
        .into_iter()
        .filter(|id| !crowds.iter().any(|c| c.contains(id)))
        .collect();
    live.sort();
    let claimed = claimed_provider_keys(client, names).await;
    assert_eq!(
        live, claimed,
        "the provider's live keys are not those the records claim"
    );
    for crowd in crowds {
        crowd.assert_untouched(fake);
    }
    let mut revoked = 0;
    for name in names {
        revoked += history_events(client, name, "unrecorded_key_revoked")
            .await
            .len();
    }
    revoked
}
