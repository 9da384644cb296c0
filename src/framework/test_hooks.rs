//! Test hooks: paths that make a backend do now what the host does only on its schedule, so that
//! end-to-end tests wait for an outcome instead of for the host's clock.
//!
//! Compiled only with the `test-hooks` cargo feature, which is off by default: `scripts/test.sh`
//! turns it on for the tests, and `scripts/release.sh` (a plain `cargo build --release`) never
//! does, so a release binary has neither the path nor its code. A backend adds the hooks with
//! [`super::Backend::test_hooks`].
//!
//! - `test-hooks/tick` (write) runs the host's periodic `rollback` work: the backend's periodic
//!   function, then the WAL rollback driver, through the same [`Rollback::run`] the host's call
//!   goes through, one run at a time with it. `wal_min_age` lowers the WAL entries' minimum age
//!   for that one run (a test of crash recovery need not wait for the production minimum); the
//!   host's calls keep the backend's own. `wal_settle_after` hands the WAL rollback handler a
//!   shorter period to see a state hold before it concludes from it (for example how long a
//!   lookup must keep answering "not found"), for that one run, through the rollback request
//!   ([`Request::wal_settle_after`]); what it means is the handler's business.

use std::time::Duration;

use super::backend::Rollback;
use super::field::{Field, FieldType};
use super::path::{handler, Path};
use super::request::{Operation, Request};
use super::Error;

/// The tick hook's path under the mount.
pub(crate) const TICK_PATH: &str = "test-hooks/tick";

/// The longest `wal_settle_after` accepted (a day).
const SETTLE_AFTER_MAX: i64 = 24 * 3600;

const TICK_SYNOPSIS: &str = "Run the periodic work now (test builds only).";

const TICK_DESCRIPTION: &str = "\
Exists only in builds with the test-hooks cargo feature, which the project's tests turn on and \
release builds never have. A write runs, now and exactly once, what the host's periodic rollback \
call (every 60 s on the active node) runs: the engine's periodic work (grace ends, revocations, \
usage checks, automatic rotations), then the recovery of write-ahead-log entries older than the \
minimum age. It waits for a run the host started, and the host's next run waits for it. It \
answers 204 when every part succeeded, and otherwise the error the host's call would have got. \
wal_min_age lowers the minimum age of the entries recovered, for this run only; \
wal_settle_after shortens, for this run only, how long the recovery waits to see a state hold \
before it concludes from it.";

/// The `test-hooks/tick` path, running `rollback`.
pub(super) fn tick_path(rollback: Rollback) -> Path {
    let production_min_age = rollback.wal_min_age();
    let max = i64::try_from(production_min_age.as_secs()).unwrap_or(i64::MAX);
    Path::new(TICK_PATH)
        .field(
            Field::new(
                "wal_min_age",
                FieldType::Duration,
                "Minimum age of the write-ahead-log entries recovered by this run, at most the \
                 backend's own (the default); 0 recovers every entry older than a second.",
            )
            .min(0)
            .max(max),
        )
        .field(
            Field::new(
                "wal_settle_after",
                FieldType::Duration,
                "For this run only: how long the WAL recovery waits to see a state hold (for \
                 example a lookup answering \"not found\") before it concludes from it, instead \
                 of the backend's own period. Default: the backend's own.",
            )
            .min(0)
            .max(SETTLE_AFTER_MAX),
        )
        .operation(
            Operation::Update,
            "Run the host's periodic work now (test builds only).",
            handler(move |req: Request, data| {
                let rollback = rollback.clone();
                async move {
                    let min_age = match data.get_duration("wal_min_age") {
                        Some(secs) => {
                            Some(Duration::from_secs(u64::try_from(secs).map_err(|_| {
                                Error::BadRequest("wal_min_age must not be negative".into())
                            })?))
                        }
                        None => None,
                    };
                    let settle_after = match data.get_duration("wal_settle_after") {
                        Some(secs) => {
                            Some(Duration::from_secs(u64::try_from(secs).map_err(|_| {
                                Error::BadRequest("wal_settle_after must not be negative".into())
                            })?))
                        }
                        None => None,
                    };
                    // The request the host sends for its periodic call: no path, no data, no
                    // caller; the mount and its storage.
                    let mut tick = Request::new(Operation::Rollback, "", req.storage.clone());
                    tick.mount_point = req.mount_point;
                    tick.wal_settle_after = settle_after;
                    rollback.run(tick, min_age).await
                }
            }),
        )
        .strict()
        .help(TICK_SYNOPSIS, TICK_DESCRIPTION)
}
