//! The decommissioning procedure in docs/operating.md ("Decommission a mount"), run as written
//! by bash with the real `bao` CLI: it leaves nothing the engine created alive at the fake
//! provider and disables the mount; and while anything still belongs to a provider (a
//! revocation it refuses, a key whose create answer was lost, a deleted key's manual revocation
//! nobody acknowledged), it stops before `secrets disable` and says why.

use std::fs;
use std::process::{Output, Stdio};

use tokio::process::Command;

use serde_json::json;

use crate::providers::{
    create_key, openai_provider, provider_body, rotate, tick_until, RECOVERY_DEADLINE,
};
use crate::support::checks::{data, output_text, repo_root, secret, token_with_policy, write_ok};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::{bao_bin, Bao, Client, Tick};

/// Bound of one run of the procedure (a few `bao` calls, each revoking at a local fake).
const SCRIPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The document that holds the procedure, relative to the repository's root.
const DOCUMENT: &str = "docs/operating.md";
const MARKER: &str = "<!-- decommission: the e2e decommission test runs this block as written -->";

/// The shell block right after [`MARKER`] in [`DOCUMENT`].
fn documented_procedure() -> String {
    let document = fs::read_to_string(repo_root().join(DOCUMENT)).expect(DOCUMENT);
    let after = document
        .split_once(MARKER)
        .unwrap_or_else(|| panic!("the decommissioning marker in {DOCUMENT}"))
        .1;
    let body = after
        .trim_start()
        .strip_prefix("```sh\n")
        .expect("a ```sh block right after the marker");
    let end = body.find("\n```").expect("the end of the block");
    body[..=end].to_owned()
}

/// Runs `script` with bash, `bao` (the real CLI) first on PATH, against `bao` with `token`.
/// Asynchronously: the fake provider answers on this test's runtime while the script runs.
async fn run_script(bao: &Bao, token: &str, script: &str) -> Output {
    let bin = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink(bao_bin(), bin.path().join("bao")).expect("linking bao");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("PATH", path)
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", token)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .expect("the procedure ran too long")
        .expect("running bash")
}

/// Two rotations that have the provider create keys, on `mount`/keys/`name`.
async fn created_twice(client: &Client, fake: &FakeProvider, mount: &str, name: &str, p: &str) {
    let v0 = secret("v0");
    fake.add_key(&v0);
    write_ok(
        client,
        &format!("{mount}/keys/{name}"),
        json!({ "value": v0, "provider": p }),
    )
    .await;
    for n in 1..=2 {
        let reply = client
            .write(&format!("{mount}/rotate/{name}"), json!({}))
            .await;
        data(&reply, &format!("{mount}/rotate/{name} #{n}"));
    }
}

/// What the person running the procedure does when it stops on "has manual revocations nobody
/// acknowledged": revoke by hand the deleted keys' values the engine never owned (the fake's
/// imported keys, which the engine never touches), then record each with `acknowledge/`. The
/// number acknowledged.
async fn acknowledge_deleted_manual(client: &Client, mount: &str) -> usize {
    let report = data(&client.read(&format!("{mount}/report")).await, "report");
    let manual = report["deleted_keys_revocations_manual"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for m in &manual {
        let key = m["key"].as_str().expect("a key name");
        write_ok(
            client,
            &format!("{mount}/acknowledge/{key}"),
            json!({ "version": m["version"], "deleted": true, "reason": "revoked by hand" }),
        )
        .await;
    }
    manual.len()
}

async fn mounts(client: &Client) -> Vec<String> {
    let reply = client.read("sys/mounts").await;
    data(&reply, "sys/mounts")
        .as_object()
        .expect("mounts")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_documented_procedure_revokes_everything_the_engine_created_before_disabling() {
    let (bao, fake, other) =
        tokio::join!(Bao::start(), FakeProvider::start(), FakeProvider::start());
    let client = bao.client();
    let script = documented_procedure();

    // ai-keys/: two keys with created versions (one also has a created previous version in its
    // grace window), and one key a person manages.
    openai_provider(&client, &fake, "oa").await;
    created_twice(&client, &fake, "ai-keys", "app", "oa").await;
    let v0 = secret("batch-v0");
    fake.add_key(&v0);
    create_key(&client, "batch", json!({ "value": v0, "provider": "oa" })).await;
    data(&rotate(&client, "batch", json!({})).await, "rotate/batch");
    create_key(&client, "manual", json!({ "value": secret("manual") })).await;
    assert_eq!(
        fake.active_created_keys().len(),
        3,
        "{:?}",
        fake.created_keys()
    );

    // team-b/: a created key at a provider that will refuse to revoke it.
    bao.mount_plugin("team-b").await;
    let admin = secret("admin-b");
    other.add_admin_key(&admin);
    write_ok(
        &client,
        "team-b/providers/ob",
        provider_body("openai", &other, Some(&admin)),
    )
    .await;
    created_twice(&client, &other, "team-b", "app", "ob").await;
    assert_eq!(other.active_created_keys().len(), 2);

    // The imported values (app's and batch's first versions) were never the engine's: the
    // procedure stops until a person records revoking them by hand, then finishes.
    let out = run_script(&bao, &bao.token, &script).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("has manual revocations nobody acknowledged"),
        "{text}"
    );
    assert!(text.contains("not disabled: ai-keys"), "{text}");
    assert!(
        fake.active_created_keys().is_empty(),
        "alive at the provider after the first run: {:?}",
        fake.active_created_keys()
    );
    assert_eq!(acknowledge_deleted_manual(&client, "ai-keys").await, 2);
    let out = run_script(&bao, &bao.token, &script).await;
    assert!(
        out.status.success(),
        "the documented procedure: {}",
        output_text(&out)
    );
    assert!(
        fake.active_created_keys().is_empty(),
        "alive at the provider after the procedure: {:?}",
        fake.active_created_keys()
    );
    assert!(!mounts(&client).await.contains(&"ai-keys/".to_owned()));

    // The provider refuses revocations: the procedure stops before disabling, and says why.
    other.set_admin_mode(Mode::ServerError500);
    let team_b = script.replacen("MOUNT=ai-keys\n", "MOUNT=team-b\n", 1);
    assert_ne!(team_b, script, "the block starts with MOUNT=ai-keys");
    let out = run_script(&bao, &bao.token, &team_b).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("has pending revocations"), "{text}");
    assert!(text.contains("not disabled: team-b"), "{text}");

    // A token that may disable the mount but not list it: nothing is disabled on a failed list.
    let blind = token_with_policy(
        &bao,
        "blind",
        r#"path "sys/mounts/team-b" { capabilities = ["delete", "update", "read"] }"#,
    )
    .await;
    let out = run_script(&bao, &blind, &team_b).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("cannot list them"), "{text}");
    assert!(mounts(&client).await.contains(&"team-b/".to_owned()));
    assert_eq!(
        other.active_created_keys().len(),
        2,
        "the fake refused, so they are still alive (and still pending in the mount)"
    );
    let provider = client.read("team-b/providers/ob").await;
    assert_eq!(provider.status, 200, "{}", provider.text);
}

/// A rotation whose create answer was lost leaves a key at the provider that only its create
/// intent remembers: the procedure deletes the key but not the provider that may hold that key,
/// and stops; once recovery has found and revoked it, the same procedure finishes.
#[tokio::test]
async fn the_documented_procedure_stops_while_a_lost_create_answer_may_have_left_a_key() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let script = documented_procedure();
    openai_provider(&client, &fake, "oa").await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(&client, "app", json!({ "value": v0, "provider": "oa" })).await;
    // The provider makes the key and never answers: the rotation fails after its timeout.
    fake.set_stall_after_create(true);
    let reply = rotate(&client, "app", json!({})).await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    fake.set_stall_after_create(false);
    assert_eq!(
        fake.active_created_keys().len(),
        1,
        "{:?}",
        fake.created_keys()
    );

    let out = run_script(&bao, &bao.token, &script).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("create intents"), "{text}");
    assert!(text.contains("not disabled: ai-keys"), "{text}");
    assert!(mounts(&client).await.contains(&"ai-keys/".to_owned()));
    let provider = data(
        &client.read("ai-keys/providers/oa").await,
        "oa is still there",
    );
    assert_eq!(
        provider["belongings"]["create_intents"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{provider:#}"
    );

    tick_until(
        &bao,
        Tick::RecoverYoungIntents,
        "recovery to revoke the key whose create answer was lost",
        RECOVERY_DEADLINE,
        || async { fake.active_created_keys().is_empty() },
    )
    .await;
    // App's imported first version was never the engine's: a person revokes it by hand.
    assert_eq!(acknowledge_deleted_manual(&client, "ai-keys").await, 1);
    let out = run_script(&bao, &bao.token, &script).await;
    assert!(
        out.status.success(),
        "the second run: {}",
        output_text(&out)
    );
    assert!(!mounts(&client).await.contains(&"ai-keys/".to_owned()));
}
