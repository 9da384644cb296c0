//! The plugin's tick hook: `ai-keys/test-hooks/tick` runs now what the host runs on its periodic
//! tick (every 60 s on the active node): the engine's periodic work, then the WAL recovery. It
//! exists only in builds with the `test-hooks` cargo feature (src/framework/test_hooks.rs), which
//! scripts/test.sh turns on; release builds never have it.
//!
//! Tests call it, then poll for the outcome, instead of waiting up to two minutes for the host.
//! A few tests deliberately keep waiting for the host's own call, so that the real path stays
//! covered; their docs say so.

use serde_json::json;

use super::client::{Client, Reply};
use super::server::MOUNT_PATH;

/// What a tick run recovers from the write-ahead log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Exactly the host's call: intents younger than the engine's minimum age (30 s) are left
    /// to a later tick.
    AsTheHost,
    /// The host's call with the minimum age lowered to zero for this run: every intent older
    /// than a second is recovered (a test of crash recovery need not wait 30 s). Intents whose
    /// key is locked by a request in flight are still left alone, as always. The recovery's
    /// patience is shortened too (`wal_settle_after` 0): a create intent whose key the
    /// provider's list does not show is settled as "nothing created" after three such lookups,
    /// one a run, instead of over 15 minutes, once two provider timeouts have passed since it
    /// was written.
    RecoverYoungIntents,
}

/// Whether an OpenAPI path template (`/ai-keys/test-hooks/tick`) is a test hook: the API of test
/// builds only, which checks of the release API (roles, docs, fuzzers) leave out.
pub fn is_test_hook(template: &str) -> bool {
    template.contains("/test-hooks/")
}

impl Client {
    /// Runs the mount's periodic work now (see [`Tick`]). The reply is 204 when every part of
    /// it succeeded, and otherwise the error the host's call would get (a 500 naming each key
    /// whose work failed; or the server's own, while a killed plugin restarts): tests check
    /// the outcome on the keys and at the provider, not this. Panics when the plugin has no
    /// test hooks.
    pub async fn tick(&self, tick: Tick) -> Reply {
        let body = match tick {
            Tick::AsTheHost => json!({}),
            Tick::RecoverYoungIntents => json!({ "wal_min_age": 0, "wal_settle_after": 0 }),
        };
        let reply = self
            .write(&format!("{MOUNT_PATH}/test-hooks/tick"), body)
            .await;
        let missing = reply.status == 404
            || reply.status == 405
            || (reply.status == 400 && reply.errors().contains("unsupported path"));
        assert!(
            !missing,
            "the plugin has no test hooks (HTTP {}: {}): build the tests with \
             `--features test-hooks` (scripts/test.sh does)",
            reply.status, reply.text
        );
        reply
    }
}
