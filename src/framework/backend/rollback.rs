//! The rollback work: the periodic function, then the WAL driver that hands each entry old
//! enough to the engine's rollback handler and deletes the ones it settled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::super::error::Error;
use super::super::path::HandlerResult;
use super::super::request::Request;
use super::super::wal;
use super::Backend;

/// Periodic work, run on every rollback tick (every 60 s, and at unmount).
pub type PeriodicFn =
    Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> + Send + Sync>;

/// Finishes or undoes the partial work recorded by a WAL entry, given its id and the entry.
/// [`WalOutcome::Settled`] deletes the entry; [`WalOutcome::Later`] keeps it quietly (for a
/// handler that backs off, or that found the work still in flight).
pub type WalRollbackFn = Arc<
    dyn Fn(
            Request,
            String,
            wal::WalEntry,
        ) -> Pin<Box<dyn Future<Output = Result<WalOutcome, Error>> + Send>>
        + Send
        + Sync,
>;

/// What a WAL rollback handler did with an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalOutcome {
    /// The work is finished or undone: delete the entry.
    Settled,
    /// Not now: keep the entry for a later tick.
    Later,
}

/// What one `rollback` runs, in order: the periodic function, then the WAL driver. The host's
/// periodic call runs it through [`Backend::handle_request`]; in builds with the `test-hooks`
/// feature the tick hook ([`super::super::test_hooks`]) holds a copy and runs the same
/// [`Rollback::run`]. Runs never overlap: the host never starts a rollback while one is in
/// flight, and a hook's run waits for the host's (and the other way round).
#[derive(Clone)]
pub(crate) struct Rollback {
    periodic: Option<PeriodicFn>,
    wal_rollback: Option<WalRollbackFn>,
    wal_min_age: Duration,
    wal_budget: Option<Duration>,
    running: Arc<tokio::sync::Mutex<()>>,
}

impl Backend {
    /// The rollback work as this backend is configured now.
    pub(super) fn rollback(&self) -> Rollback {
        Rollback {
            periodic: self.periodic.clone(),
            wal_rollback: self.wal_rollback.clone(),
            wal_min_age: self.wal_min_age,
            wal_budget: self.wal_budget,
            running: self.rollback_running.clone(),
        }
    }
}

impl Rollback {
    /// The minimum WAL entry age the host's call uses.
    #[cfg(feature = "test-hooks")]
    pub(crate) fn wal_min_age(&self) -> Duration {
        self.wal_min_age
    }

    /// Runs the periodic function, then rolls back WAL entries older than the minimum age
    /// (`wal_min_age` replaces the configured one for this run only; all of them when the data
    /// has `immediate`); failures are joined into one [`Error::Internal`] after trying all.
    pub(crate) async fn run(&self, req: Request, wal_min_age: Option<Duration>) -> HandlerResult {
        let _one_at_a_time = self.running.lock().await;
        let mut errors = Vec::new();
        if let Some(periodic) = &self.periodic {
            if let Err(e) = periodic(req.clone()).await {
                errors.push(e.to_string());
            }
        }
        if let Some(rollback) = &self.wal_rollback {
            let min_age = wal_min_age.unwrap_or(self.wal_min_age);
            self.rollback_wal(rollback, &req, min_age, &mut errors)
                .await;
        }
        if errors.is_empty() {
            Ok(None)
        } else {
            Err(Error::Internal(errors.join("; ")))
        }
    }

    async fn rollback_wal(
        &self,
        rollback: &WalRollbackFn,
        req: &Request,
        min_age: Duration,
        errors: &mut Vec<String>,
    ) {
        let storage = req.storage.as_ref();
        let ids = match wal::wal_list(storage).await {
            Ok(ids) => ids,
            Err(e) => return errors.push(e.to_string()),
        };
        let immediate = req.data.contains_key("immediate");
        let now = chrono::Utc::now().timestamp();
        let min_age = i64::try_from(min_age.as_secs()).unwrap_or(i64::MAX);
        let started = std::time::Instant::now();
        for id in ids {
            if self.wal_budget.is_some_and(|b| started.elapsed() >= b) {
                tracing::info!(
                    "WAL rollback time budget spent; the remaining entries wait for the next tick"
                );
                break;
            }
            let entry = match wal::wal_get(storage, &id).await {
                Ok(Some(entry)) => entry,
                Ok(None) => continue,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            // Like Go: roll back entries created strictly before now - min_age.
            if !immediate && entry.created_at >= now.saturating_sub(min_age) {
                continue;
            }
            let kind = entry.kind.clone();
            match rollback(req.clone(), id.clone(), entry).await {
                Ok(WalOutcome::Settled) => {
                    if let Err(e) = wal::wal_delete(storage, &id).await {
                        errors.push(e.to_string());
                    }
                }
                Ok(WalOutcome::Later) => {}
                Err(e) => {
                    tracing::warn!(wal_id = %id, kind = %kind, error = %e, "WAL rollback failed");
                    errors.push(format!("error rolling back {kind:?} entry: {e}"));
                }
            }
        }
    }
}
