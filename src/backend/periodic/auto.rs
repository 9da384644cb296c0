//! One automatic rotation attempt by the scheduler (the tick's due keys, and keys whose current
//! version the provider refuses, from the tick or `reconcile`).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::plan::backoff;
use crate::backend::shared::Shared;
use crate::backend::workflows::{self, Locked};
use crate::framework::Storage;

/// One automatic attempt. The back-off is recorded before the attempt, so a failure (whatever
/// it is) leaves it in place; a success resets it. A current version its provider refuses gets
/// no grace: it no longer works, and the rotation revokes it at once.
pub(super) async fn auto_rotate(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    mut locked: Locked,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let name = locked.key_ref().name.clone();
    let failures = locked.key_ref().auto.failures.saturating_add(1);
    locked.key().auto.failures = failures;
    locked.key().auto.next_attempt_time = Some(now + backoff(failures));
    let rejected = locked
        .key_ref()
        .versions
        .current()
        .is_some_and(|v| v.rejected_since().is_some());
    let grace = rejected.then_some(0);
    tracing::info!(key = %name, rejected, "automatic rotation starting");
    match workflows::rotate(shared, storage, locked, None, grace, None).await {
        Ok(_) => {
            tracing::info!(key = %name, "automatic rotation done");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(key = %name, attempt = failures, error = %e, "automatic rotation failed; current version unchanged, will retry with back-off");
            Err(e.to_string())
        }
    }
}
