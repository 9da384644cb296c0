//! `providers/` against a real OpenBao 2.7.2 and a local fake AI provider (the plugin reaches it
//! only through each provider's `base_url`): key tests for all six provider types and how their
//! outcomes gate `rotate/`, `test/` and `promote/`; provider reads that never show the admin key,
//! capabilities, deletion and validation; and OpenAI keys created inside one service account.
//! What is done with the keys a provider creates once they retire is in `revocation`.
//!
//! The helpers here (provider bodies, calls to `keys/`, `creds/` and `rotate/`, waits for the
//! host's periodic tick, the check that no secret reached a log) serve most other modules.
//!
//! Contract: docs/api.md, docs/providers.md. The host's periodic tick (grace expiry at the
//! provider, WAL recovery, automatic rotation) comes every 60 s; tests run the same work now
//! through the plugin's tick hook ([`tick_until`], `support::tick`) and poll for its outcome. The
//! few that deliberately wait for the host's own call poll with [`TICK_DEADLINE`].

mod config;
mod outcomes;
mod service_accounts;

use std::future::Future;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::checks::{read_ok, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::server::poll_until_or;
use crate::support::{Bao, Client, Reply, Tick};

/// Bound of a wait for the host's own periodic tick (every 60 s, first one 60 s after unseal),
/// for the tests that keep the real path covered.
pub(crate) const TICK_DEADLINE: Duration = Duration::from_secs(150);
/// Bound of every other wait.
pub(crate) const SHORT_DEADLINE: Duration = Duration::from_secs(15);
/// Bound of a wait for WAL recovery run by [`tick_until`]: at once, unless an attempt made
/// during the test failed (a plugin killed mid-call, a provider down) and backs off a minute.
pub(crate) const RECOVERY_DEADLINE: Duration = Duration::from_secs(90);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Pause between two runs of [`tick_until`]: each run is the whole periodic work.
const TICK_INTERVAL: Duration = Duration::from_millis(250);
/// OpenAI project every `openai` provider here is configured with.
pub(crate) const PROJECT: &str = "proj_test";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The body of `providers/<p>` for `kind` pointing at `fake`, with a 2 s timeout; `openai` also
/// gets `project_id`. `admin` is the admin (management) key, if any.
pub(crate) fn provider_body(kind: &str, fake: &FakeProvider, admin: Option<&str>) -> Value {
    let mut body = json!({ "type": kind, "base_url": fake.base_url(), "timeout": "2s" });
    if kind == "openai" {
        body["project_id"] = json!(PROJECT);
    }
    if let Some(admin) = admin {
        body["admin_key"] = json!(admin);
    }
    body
}

pub(crate) async fn configure_provider(client: &Client, name: &str, body: Value) -> Value {
    write_ok(client, &format!("ai-keys/providers/{name}"), body).await
}

/// Configures OpenAI provider `name` at `fake` with a fresh admin key.
pub(crate) async fn openai_provider(client: &Client, fake: &FakeProvider, name: &str) {
    let admin = crate::support::checks::secret(&format!("admin-{name}"));
    fake.add_admin_key(&admin);
    let got = configure_provider(client, name, provider_body("openai", fake, Some(&admin))).await;
    assert_eq!(got["capabilities"]["revoke"], true, "{got:#}");
}

pub(crate) async fn create_key(client: &Client, name: &str, body: Value) -> Value {
    write_ok(client, &format!("ai-keys/keys/{name}"), body).await
}

pub(crate) async fn read_key(client: &Client, name: &str) -> Value {
    read_ok(client, &format!("ai-keys/keys/{name}")).await
}

pub(crate) async fn creds(client: &Client, name: &str) -> Value {
    read_ok(client, &format!("ai-keys/creds/{name}")).await
}

pub(crate) async fn rotate(client: &Client, name: &str, body: Value) -> Reply {
    client.write(&format!("ai-keys/rotate/{name}"), body).await
}

/// `versions[n]` of a `keys/` read.
#[track_caller]
pub(crate) fn version(key: &Value, n: u64) -> &Value {
    let v = &key["versions"][n.to_string()];
    assert!(v.is_object(), "no version {n} in {key:#}");
    v
}

/// Polls `f` until it returns true; panics naming `what`, with the server log's tail, after
/// `limit`. Returns how long it took.
pub(crate) async fn wait_until<F, Fut>(bao: &Bao, what: &str, limit: Duration, f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll_until_or(what, limit, POLL_INTERVAL, f, || {
        format!("--- server.log (tail) ---\n{}", bao.server_log_tail(60))
    })
    .await
}

/// Runs the periodic work now through the tick hook (see [`Tick`]), then polls `f`, again and
/// again, until `f` returns true; panics naming `what`, with the server log's tail, after
/// `limit`. Returns how long it took.
pub(crate) async fn tick_until<F, Fut>(
    bao: &Bao,
    tick: Tick,
    what: &str,
    limit: Duration,
    mut f: F,
) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let client = bao.client();
    let c = &client;
    poll_until_or(
        what,
        limit,
        TICK_INTERVAL,
        || {
            let check = f();
            async move {
                c.tick(tick).await;
                check.await
            }
        },
        || format!("--- server.log (tail) ---\n{}", bao.server_log_tail(60)),
    )
    .await
}

/// No secret (key values, admin keys, values the fake created) in the server log (which holds
/// the plugin's stderr), in clear in the audit log, or in a URI the fake received. Also checks
/// that the audit device saw at least one of them, hashed: the check is not vacuous.
pub(crate) async fn assert_no_leaks(bao: &Bao, fake: &[&FakeProvider], secrets: &[String]) {
    let mut all: Vec<String> = secrets.to_vec();
    for f in fake {
        all.extend(f.created_keys().into_iter().map(|(_, value, _)| value));
    }
    assert!(!all.is_empty());
    let server = bao.server_log();
    let audit = bao.audit_log();
    assert!(!audit.is_empty(), "the audit log is empty");
    for s in &all {
        assert!(
            !server.contains(s.as_str()),
            "a secret ({}...) is in server.log:\n{}",
            &s[..12.min(s.len())],
            server
                .lines()
                .filter(|l| l.contains(s.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            !audit.contains(s.as_str()),
            "a secret ({}...) is in clear in audit.log",
            &s[..12.min(s.len())]
        );
        for f in fake {
            assert!(
                !f.uris().iter().any(|u| u.contains(s.as_str())),
                "a secret ({}...) is in a URI the provider received",
                &s[..12.min(s.len())]
            );
        }
    }
    let hash = bao.audit_hash(&secrets[0]).await;
    assert!(
        audit.contains(&hash),
        "the audit log should hold the first secret hashed ({hash})"
    );
}

/// The create intents in the mount's storage (`wal/`, read through `sys/raw`): creates at a
/// provider the engine has not yet seen finished, each `(key, name at the provider)`.
pub(crate) async fn create_intents(client: &Client) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for id in crate::support::raw::raw_list(client, "wal/").await {
        let Some(text) = crate::support::raw::raw_get(client, &format!("wal/{id}")).await else {
            continue;
        };
        let entry: Value = serde_json::from_str(&text).expect("a WAL entry is JSON");
        if entry["type"] == "provider_create" {
            let field = |f: &str| entry["data"][f].as_str().unwrap_or_default().to_string();
            out.push((field("key"), field("name_at_provider")));
        }
    }
    out
}

/// The provider key ids the records of `names` claim are alive: those of their pending,
/// current and previous versions.
pub(crate) async fn claimed_provider_keys(client: &Client, names: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        let key = read_key(client, name).await;
        for v in key["versions"].as_object().expect("versions").values() {
            let live = matches!(
                v["state"].as_str(),
                Some("pending" | "current" | "previous")
            );
            if let (true, Some(id)) = (live, v["provider_key_id"].as_str()) {
                out.push(id.to_string());
            }
        }
    }
    out.sort();
    out
}

/// The `event` events of `name`'s history (its newest 1000).
pub(crate) async fn history_events(client: &Client, name: &str, event: &str) -> Vec<Value> {
    let history = read_ok(client, &format!("ai-keys/history/{name}?limit=1000")).await;
    history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"] == event)
        .cloned()
        .collect()
}
