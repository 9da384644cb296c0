//! Standbys and failover: every node runs its own plugin process for the mount; standbys serve
//! reads from replicated storage, and a write sent to a standby runs the standby's handler on
//! read-only storage first, which must fail before any side effect so the server forwards the
//! request to the leader (openbao.md, "What a plugin sees on a standby"; api.md, "Automatic
//! work").
//!
//! One cluster, one test: setting up three nodes takes most of the time (about 12 s), and the
//! steps build on each other (the key written through a standby is the one rotated through a
//! standby, then read and staged through the new leader after a failover). Writes in a row
//! through a standby: `forwarding`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{key_settled, ok, secret, REPLICATION};
use crate::support::cluster::Cluster;
use crate::support::fake_provider::FakeProvider;
use crate::support::{process, Client};

/// The schedules every mount starts with (api.md, `schedules/`).
const BUILT_IN_SCHEDULES: [&str; 4] = ["development", "production", "production-tier1", "staging"];
/// How long the survivors may take to elect a new leader after a SIGKILL (1.4-2.4 s observed).
const ELECTION: Duration = Duration::from_secs(20);
/// How long the new leader's plugin may take to answer after it became active.
const NEW_LEADER_READY: Duration = Duration::from_secs(10);
/// How long a SIGKILLed server's plugin processes may take to notice and exit.
const ORPHAN_EXIT: Duration = Duration::from_secs(5);
/// OpenAI project the provider is configured with.
const PROJECT: &str = "proj_cluster";

/// The names `LIST ai-keys/schedules` returns through `client`, if it answers 200.
async fn schedules(client: &Client) -> Option<BTreeSet<String>> {
    let reply = client.list("ai-keys/schedules").await;
    (reply.status == 200).then(|| {
        reply.data()["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect()
    })
}

/// `api_key` of `creds/app` through `client`, if it answers 200.
async fn creds_app(client: &Client) -> Option<String> {
    let reply = client.read("ai-keys/creds/app").await;
    (reply.status == 200).then(|| reply.data()["api_key"].as_str().map(str::to_owned))?
}

/// Waits until `creds/app` returns `value` through every live node (replication to standbys).
async fn creds_everywhere(cluster: &Cluster, value: &str, what: &str) -> Duration {
    let mut slowest = Duration::ZERO;
    for i in cluster.live() {
        let client = cluster.client(i);
        let client = &client;
        let label = format!("creds/app through {} = {what}", cluster.nodes[i].name);
        let took = cluster
            .wait_for(&label, REPLICATION, || async move {
                creds_app(client).await.as_deref() == Some(value)
            })
            .await;
        slowest = slowest.max(took);
    }
    slowest
}

/// What a standby's log says about setting up its own plugin for the mount: its log from the
/// mount on must show Initialize being called (the plugin's "initializing" line) and the mount
/// succeeding, with no warning or error about the plugin or the mount since, and nowhere a
/// failed Initialize or a write to read-only storage (a standby that tried to seed the
/// schedules). Returns the problems found.
fn standby_setup_problems(log: &str) -> Vec<String> {
    let Some(start) = log.find("calling mount internal: path=ai-keys/") else {
        return vec!["no mount of ai-keys/ in the log".into()];
    };
    let section = &log[start..];
    let mut problems = Vec::new();
    if !section.contains("ai-keys secrets engine initializing") {
        problems.push("the plugin's Initialize was not called".into());
    }
    if !section.contains(r#"successful mount: namespace="" path=ai-keys/"#) {
        problems.push("no successful mount of ai-keys/".into());
    }
    // Raft's own warnings (a slow heartbeat on a busy machine) are not the plugin's business.
    problems.extend(
        section
            .lines()
            .filter(|l| l.contains("[ERROR]") || l.contains("[WARN]"))
            .filter(|l| l.contains("ai-keys") || l.contains("plugin") || l.contains("mount"))
            .map(|l| format!("since the mount: {l}")),
    );
    problems.extend(
        log.lines()
            .filter(|l| l.contains("initialization failed") || l.contains("readonly storage"))
            .map(str::to_owned),
    );
    problems
}

/// 1. The mount works on every node: the four built-in schedules (seeded once, by the leader)
///    are listed through each node, every standby runs its own plugin process, and no standby
///    logs a failed set-up or Initialize (its Initialize skips seeding on read-only storage).
/// 2. Writes sent to a standby (`keys/app` create, `stage/`, `test/`, `promote/`) succeed
///    (forwarded to the leader), and `creds/app` returns the new value through every node.
/// 3. Provider side effects happen once: `rotate/app` without a value sent to a standby is a
///    200 and the fake provider has exactly one created key (the standby's handler fails on
///    read-only storage before calling the provider; the leader's creates one key).
/// 4. Failover: after a SIGKILL of the leader a survivor answers `sys/health` 200 within 20 s,
///    `creds/app` through it returns the same value, `stage/` through it works (and reaches the
///    other survivor), and the dead server's plugin processes exit on their own.
#[tokio::test]
async fn three_node_cluster_standbys_forward_writes_and_survive_failover() {
    let (mut cluster, fake) = tokio::join!(Cluster::start(), FakeProvider::start());
    eprintln!("cluster set-up: {:?}", cluster.setup_time);
    let leader = cluster.active().await.expect("exactly one active node");
    let standbys: Vec<usize> = cluster.standbys(leader);
    assert_eq!(standbys.len(), 2, "two standbys");

    // 1. The mount works on every node, seeded once by the leader.
    let want: BTreeSet<String> = BUILT_IN_SCHEDULES.iter().map(|s| s.to_string()).collect();
    for i in cluster.live() {
        let client = cluster.client(i);
        let client = &client;
        let want = &want;
        let label = format!("the built-in schedules through {}", cluster.nodes[i].name);
        cluster
            .wait_for(&label, REPLICATION, || async move {
                schedules(client).await.as_ref() == Some(want)
            })
            .await;
        let production = ok(
            &client.read("ai-keys/schedules/production").await,
            &format!("schedules/production through {}", cluster.nodes[i].name),
        );
        assert_eq!(production["rotation_period"], 90 * 86_400, "{production:#}");
        assert_eq!(production["grace_period"], 48 * 3_600, "{production:#}");
    }
    for &i in &standbys {
        let name = cluster.nodes[i].name.clone();
        let plugins = cluster.plugin_pids(i);
        assert!(
            !plugins.is_empty(),
            "{name} runs no plugin process of its own for the mount"
        );
        let problems = standby_setup_problems(&cluster.server_log(i));
        assert!(
            problems.is_empty(),
            "{name}: set-up of its plugin for the mount:\n{}",
            problems.join("\n")
        );
    }

    // 2. Writes through a standby are forwarded to the leader. Each write waits until the
    //    standby's own storage shows the previous one: the standby's handler runs first, on
    //    replicated storage that lags 50-100 ms, and a refusal it bases on stale data is not
    //    forwarded unless the plugin refuses every standby write at once (see the second test).
    let via = cluster.client(standbys[0]);
    let v1 = secret("v1");
    ok(
        &via.write("ai-keys/keys/app", json!({ "value": v1 })).await,
        "keys/app create through a standby",
    );
    key_settled(&cluster, &via, "keys/app on the standby", |k| {
        k["current_version"] == 1
    })
    .await;
    let v2 = secret("v2");
    let staged = ok(
        &via.write("ai-keys/stage/app", json!({ "value": v2 })).await,
        "stage/app through a standby",
    );
    assert_eq!(staged["version"], 2, "{staged:#}");
    let lag = key_settled(&cluster, &via, "pending version 2 on the standby", |k| {
        k["pending_version"] == 2
    })
    .await;
    eprintln!("a write forwarded from the standby reached its storage {lag:?} after the reply");
    let tested = ok(
        &via.write("ai-keys/test/app", json!({})).await,
        "test/app through a standby",
    );
    assert_eq!(tested["outcome"], "skipped", "{tested:#}");
    key_settled(&cluster, &via, "version 2 tested on the standby", |k| {
        k["versions"]["2"]["last_test"]["outcome"] == "skipped"
    })
    .await;
    ok(
        &via.write("ai-keys/promote/app", json!({})).await,
        "promote/app through a standby",
    );
    let took = creds_everywhere(&cluster, &v2, "v2").await;
    eprintln!("v2 visible through every node after {took:?}");
    let key = ok(
        &cluster.client(leader).read("ai-keys/keys/app").await,
        "keys/app",
    );
    assert_eq!(key["current_version"], 2, "{key:#}");
    assert_eq!(key["versions"]["1"]["state"], "previous", "{key:#}");

    // 3. A rotation whose provider creates the key, sent to a standby, creates exactly one.
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    let provider = json!({
        "type": "openai", "base_url": fake.base_url(), "timeout": "2s",
        "project_id": PROJECT, "admin_key": admin,
    });
    ok(
        &cluster
            .client(leader)
            .write("ai-keys/providers/oa", provider)
            .await,
        "providers/oa through the leader",
    );
    // The standby checks from its own replicated storage that the provider exists, and
    // later that the key has a provider that can create keys.
    let via_ref = &via;
    cluster
        .wait_for("providers/oa on the standby", REPLICATION, || async move {
            let provider = via_ref.read("ai-keys/providers/oa").await;
            provider.status == 200 && provider.data()["capabilities"]["create"] == true
        })
        .await;
    ok(
        &via.write("ai-keys/keys/app", json!({ "provider": "oa" }))
            .await,
        "keys/app provider=oa through a standby",
    );
    key_settled(&cluster, &via, "keys/app provider oa on the standby", |k| {
        k["provider"] == "oa"
    })
    .await;
    assert!(fake.created_keys().is_empty());
    let rotated = ok(
        &via.write("ai-keys/rotate/app", json!({})).await,
        "rotate/app without a value through a standby",
    );
    assert_eq!(rotated["test"]["outcome"], "passed", "{rotated:#}");
    let created = fake.created_keys();
    assert_eq!(
        created.len(),
        1,
        "one rotation through a standby created {} keys at the provider: {:?}",
        created.len(),
        created.iter().map(|(id, _, _)| id).collect::<Vec<_>>()
    );
    // The key lives in the engine's one service account, created once (see
    // `providers::service_accounts`).
    let accounts = fake.service_accounts(PROJECT);
    assert_eq!(
        accounts.len(),
        1,
        "service accounts at the provider: {accounts:?}"
    );
    let (created_id, created_value, active) = created[0].clone();
    assert!(active, "the created key is active");
    let took = creds_everywhere(&cluster, &created_value, "the created key").await;
    eprintln!("the created key visible through every node after {took:?}");
    let key = ok(
        &cluster.client(leader).read("ai-keys/keys/app").await,
        "keys/app",
    );
    assert_eq!(key["current_version"], 3, "{key:#}");
    assert_eq!(
        key["versions"]["3"]["provider_key_id"], created_id,
        "{key:#}"
    );

    // 4. Failover: SIGKILL the leader.
    let old_name = cluster.nodes[leader].name.clone();
    let orphans = cluster.kill(leader);
    let killed = Instant::now();
    let cluster_ref = &cluster;
    cluster
        .wait_for("a new leader", ELECTION, || async move {
            cluster_ref.active().await.is_some()
        })
        .await;
    let failover = killed.elapsed();
    let new_leader = cluster.active().await.expect("one active node");
    let new_name = cluster.nodes[new_leader].name.clone();
    eprintln!(
        "failover: {new_name} answers sys/health 200 {failover:?} after the SIGKILL of {old_name}"
    );
    assert_ne!(new_leader, leader);

    let client = cluster.client(new_leader);
    let client_ref = &client;
    let value_ref = created_value.as_str();
    let took = cluster
        .wait_for(
            "creds/app through the new leader",
            NEW_LEADER_READY,
            || async move { creds_app(client_ref).await.as_deref() == Some(value_ref) },
        )
        .await;
    eprintln!(
        "creds/app through the new leader {:?} after the SIGKILL",
        failover + took
    );

    // A retry after a failed attempt must not stage twice: rotation_id makes it idempotent.
    let v4 = secret("v4");
    let body = json!({ "value": v4, "rotation_id": "after-failover" });
    let body_ref = &body;
    cluster
        .wait_for(
            "stage/app through the new leader",
            NEW_LEADER_READY,
            || async move {
                let reply = client_ref
                    .write("ai-keys/stage/app", body_ref.clone())
                    .await;
                if !reply.is_success() {
                    eprintln!(
                        "stage/app through the new leader: HTTP {}: {}",
                        reply.status,
                        reply.errors()
                    );
                }
                reply.is_success()
            },
        )
        .await;
    eprintln!(
        "stage/app through the new leader worked {:?} after the SIGKILL",
        killed.elapsed()
    );
    let key = ok(
        &client.read("ai-keys/keys/app").await,
        "keys/app on the new leader",
    );
    assert_eq!(key["pending_version"], 4, "{key:#}");
    assert_eq!(key["current_version"], 3, "{key:#}");
    assert_eq!(creds_app(&client).await.as_deref(), Some(value_ref));
    let other = cluster
        .live()
        .into_iter()
        .find(|&i| i != new_leader)
        .expect("a surviving standby");
    let other_client = cluster.client(other);
    let other_ref = &other_client;
    cluster
        .wait_for(
            "the staged version on the surviving standby",
            REPLICATION,
            || async move {
                let key = other_ref.read("ai-keys/keys/app").await;
                key.status == 200 && key.data()["pending_version"] == 4
            },
        )
        .await;
    assert_eq!(fake.created_keys().len(), 1, "no key created since");

    // Nothing stops a SIGKILLed server's plugins: they notice their parent is gone and exit.
    let orphans = &orphans;
    cluster
        .wait_for(
            "the dead leader's plugin processes to exit",
            ORPHAN_EXIT,
            || async move { !orphans.iter().any(|&pid| process::is_alive(pid)) },
        )
        .await;
}
