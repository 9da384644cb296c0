//! `reconcile`: the engine's records compared with what its providers hold, on demand (after a
//! restore above all: a snapshot brings back records older than the providers' state).
//!
//! - **Orphans** ([`orphans`]): every key a provider configuration that creates keys shows under
//!   the engine's naming (`ai-keys-<key>-<suffix>`; OpenAI: of the engine's own service
//!   account), that no version of any record and no create or revoke intent claims, is revoked
//!   there, but only when `<key>` names a key this mount holds and the suffix starts with this
//!   mount's tag (`shared::naming_tag`, from the mount's id), so another mount's keys at a shared
//!   account, even of the same name, or a person's, are never touched: others are listed as
//!   `unknown_key`, for a person to judge. (Names made by earlier releases carry no tag: those
//!   are judged by `<key>` alone.) The provider is listed first, then the intents,
//!   then the records: a key made meanwhile has its create intent written before it was made,
//!   and its record before that intent goes, so it is always seen claimed. A record that cannot
//!   be read stops the whole operation before anything is revoked.
//! - **Live versions**: the current and previous versions of every key with a provider are
//!   tested at once (eight keys at a time) and recorded as health checks
//!   ([`super::periodic::check_live_versions`]): a refusal is flagged and, with `auto_rotate`,
//!   the key rotated at once, as the tick does.
//!
//! `dry_run` reports the same and changes nothing, here or at a provider. A revocation the
//! provider confirms with its own 404 (already gone) counts as done, so running it again is
//! harmless.

mod orphans;

use std::sync::Arc;

use futures::StreamExt;
use serde_json::{json, Value};

use super::periodic::{self, VersionCheck};
use super::record;
use super::shared::Shared;
use crate::framework::{Error, Storage};
use crate::rotation::is_refusal;

/// Keys whose versions are tested at once.
const KEY_CONCURRENCY: usize = 8;

/// Runs `reconcile`; what it found and did (ids and counts, never values).
pub(super) async fn reconcile(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    request_id: Option<String>,
    dry_run: bool,
) -> Result<Value, Error> {
    let providers = orphans::settle(shared, storage, dry_run).await?;
    let names = record::list_names(storage).await?;
    let checks = futures::stream::iter(names)
        .map(|name| {
            let request_id = request_id.clone();
            async move {
                let found =
                    periodic::check_live_versions(shared, storage, &name, request_id, dry_run)
                        .await;
                (name, found)
            }
        })
        .buffer_unordered(KEY_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let (mut tested, mut rejected, mut rotated, mut errors) =
        (0, Vec::new(), Vec::new(), Vec::new());
    let mut checks = checks;
    checks.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, found) in checks {
        match found {
            Ok((versions, rotation)) => {
                tested += versions.len();
                for VersionCheck {
                    version,
                    state,
                    outcome,
                } in versions
                {
                    if is_refusal(outcome) {
                        rejected.push(json!({ "key": name, "version": version, "state": state, "outcome": outcome.as_str() }));
                    }
                }
                match rotation {
                    Some(Ok(())) => rotated.push(json!({ "key": name })),
                    Some(Err(e)) => rotated.push(json!({ "key": name, "error": e })),
                    None => {}
                }
            }
            Err(e) => errors.push(json!({ "key": name, "error": e.to_string() })),
        }
    }
    Ok(json!({
        "dry_run": dry_run,
        "providers": providers,
        "versions_tested": tested,
        "versions_rejected": rejected,
        "rotated": rotated,
        "key_errors": errors,
    }))
}
