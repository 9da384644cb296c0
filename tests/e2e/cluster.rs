//! The engine in a real three-node OpenBao 2.7.2 cluster with integrated Raft (see
//! `support::cluster`), one file per behaviour: standbys forwarding writes and failover
//! (`failover`), writes in a row through a standby (`forwarding`), what `metrics` says on each
//! node (`metrics`), upgrade and rollback of every node (`upgrade`), a snapshot restore seen by
//! every node (`restore`).

mod failover;
mod forwarding;
mod metrics;
mod restore;
mod upgrade;

use std::time::Duration;

use serde_json::Value;

use crate::support::cluster::Cluster;
use crate::support::{Client, Reply};

/// How long a write may take to reach a standby's storage (openbao.md: 50-100 ms observed).
const REPLICATION: Duration = Duration::from_secs(2);

/// A distinctive key value: a random suffix, so it can never match by coincidence.
fn secret(tag: &str) -> String {
    format!("sk-e2e-{tag}-{}", uuid::Uuid::new_v4().simple())
}

/// Asserts a 2xx and returns the reply's `data`.
#[track_caller]
fn ok(reply: &Reply, what: &str) -> Value {
    assert!(
        reply.is_success(),
        "{what}: expected HTTP 2xx, got {}: {}",
        reply.status,
        reply.text
    );
    reply.data().clone()
}

/// Waits until `keys/app` read through `client` satisfies `check`; returns how long it took.
async fn key_settled(
    cluster: &Cluster,
    client: &Client,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Duration {
    let check = &check;
    cluster
        .wait_for(what, REPLICATION, || async move {
            let reply = client.read("ai-keys/keys/app").await;
            reply.status == 200 && check(reply.data())
        })
        .await
}
