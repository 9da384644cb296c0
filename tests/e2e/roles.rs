//! The five ready-to-use ACL roles shipped in `policies/` (app, operator, approver, auditor,
//! admin), each held by a userpass user that logs in holding exactly that one policy, read from
//! the repository so the files stay the single source: every call each role must be able to
//! make passes the server's ACL check, every other call is refused by the server (403
//! "permission denied") before the plugin sees it; and a whole rotation runs with the roles
//! alone, the history naming who staged and who promoted.
//!
//! [`install_roles`] and [`login`] also serve the `audit` and `reports` tests, which act as
//! these roles.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::providers::{configure_provider, create_key, provider_body};
use crate::support::checks::{data, history, read_ok, secret};
use crate::support::fake_provider::FakeProvider;
use crate::support::{Bao, Client, Reply};

/// The five roles, each a file `policies/<role>.hcl`.
pub(crate) const ROLES: [&str; 5] = ["app", "operator", "approver", "auditor", "admin"];

/// The key name `policies/app.hcl` uses as its placeholder.
pub(crate) const APP_KEY: &str = "my-app";

/// The text of `policies/<role>.hcl` in this repository.
pub(crate) fn policy_text(role: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("policies")
        .join(format!("{role}.hcl"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Enables userpass and, for every role, writes policy `ai-keys-<role>` from its file and a
/// user `<role>` holding exactly that policy (no `default` policy).
pub(crate) async fn install_roles(root: &Client) {
    root.write("sys/auth/userpass", json!({ "type": "userpass" }))
        .await
        .expect_status(204);
    for role in ROLES {
        root.write(
            &format!("sys/policies/acl/ai-keys-{role}"),
            json!({ "policy": policy_text(role) }),
        )
        .await
        .expect_status(204);
        root.write(
            &format!("auth/userpass/users/{role}"),
            json!({
                "password": format!("{role}-password"),
                "token_policies": [format!("ai-keys-{role}")],
                "token_no_default_policy": true,
            }),
        )
        .await
        .expect_status(204);
    }
}

/// Logs `role` in; a client with its token. Asserts the token holds exactly that one policy.
pub(crate) async fn login(bao: &Bao, role: &str) -> Client {
    let reply = bao
        .client_with_token("")
        .write(
            &format!("auth/userpass/login/{role}"),
            json!({ "password": format!("{role}-password") }),
        )
        .await;
    reply.expect_status(200);
    let auth = &reply.body["auth"];
    assert_eq!(
        auth["policies"],
        json!([format!("ai-keys-{role}")]),
        "{role} holds exactly its policy: {auth}"
    );
    bao.client_with_token(auth["client_token"].as_str().expect("client_token"))
}

/// True when the server's ACL check refused the request (before the plugin saw it).
pub(crate) fn acl_denied(reply: &Reply) -> bool {
    reply.status == 403 && reply.errors().contains("permission denied")
}

/// One request of the matrix: an id the expectations name, method, path under `ai-keys/`, body.
struct Call {
    id: &'static str,
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
}

fn call(id: &'static str, method: &'static str, path: &'static str, body: Option<Value>) -> Call {
    Call {
        id,
        method,
        path,
        body,
    }
}

/// Every kind of call the engine serves. Writes target `scratch` (or names nothing stored), so
/// the allowed ones change nothing the test relies on.
fn calls(fake: &FakeProvider) -> Vec<Call> {
    let v = || Some(json!({ "value": secret("matrix") }));
    vec![
        call("creds-app", "GET", "creds/my-app", None),
        call("creds-other", "GET", "creds/scratch", None),
        call("read-key", "GET", "keys/scratch", None),
        call("list-keys", "LIST", "keys", None),
        call("create-key", "POST", "keys/new-key", v()),
        call(
            "update-key",
            "POST",
            "keys/scratch",
            Some(json!({ "custom_metadata": { "team": "t" } })),
        ),
        call("delete-key", "DELETE", "keys/doomed", None),
        call("read-config", "GET", "config", None),
        call(
            "write-config",
            "POST",
            "config",
            Some(json!({ "history_limit": 1000 })),
        ),
        call("read-schedule", "GET", "schedules/production", None),
        call("list-schedules", "LIST", "schedules", None),
        call(
            "write-schedule",
            "POST",
            "schedules/quarterly",
            Some(json!({ "rotation_period": "90d", "grace_period": "1d" })),
        ),
        call("delete-schedule", "DELETE", "schedules/unused", None),
        call("read-provider", "GET", "providers/fake", None),
        call("list-providers", "LIST", "providers", None),
        call(
            "write-provider",
            "POST",
            "providers/fake2",
            Some(provider_body("openai", fake, None)),
        ),
        call("delete-provider", "DELETE", "providers/unused", None),
        call("stage", "POST", "stage/scratch", v()),
        call("test", "POST", "test/scratch", Some(json!({}))),
        call("rotate", "POST", "rotate/scratch", v()),
        call("rollback", "POST", "rollback/scratch", Some(json!({}))),
        call("promote", "POST", "promote/scratch", Some(json!({}))),
        call("finalize", "POST", "finalize/scratch", Some(json!({}))),
        call(
            "extend",
            "POST",
            "extend/scratch",
            Some(json!({ "grace_period": "1h" })),
        ),
        call("verify", "POST", "verify/scratch", v()),
        call("history", "GET", "history/scratch", None),
        call("overdue", "GET", "overdue", None),
        call("metrics", "GET", "metrics", None),
        call("report", "GET", "report", None),
    ]
}

/// What each role may do; everything else it must be refused.
fn allowed(role: &str) -> &'static [&'static str] {
    match role {
        "app" => &["creds-app"],
        "operator" => &[
            "read-key",
            "list-keys",
            "stage",
            "test",
            "rotate",
            "rollback",
            "extend",
            "history",
        ],
        "approver" => &["read-key", "list-keys", "promote", "finalize", "history"],
        "auditor" => &[
            "read-key",
            "list-keys",
            "history",
            "overdue",
            "metrics",
            "report",
        ],
        "admin" => &[
            "read-key",
            "list-keys",
            "create-key",
            "update-key",
            "delete-key",
            "read-config",
            "write-config",
            "read-schedule",
            "list-schedules",
            "write-schedule",
            "delete-schedule",
            "read-provider",
            "list-providers",
            "write-provider",
            "delete-provider",
            "history",
            "overdue",
            "metrics",
            "report",
        ],
        other => panic!("unknown role {other}"),
    }
}

/// A provider `fake` and keys `my-app`, `scratch`, `doomed` (all with the provider, whose
/// fake accepts their values), created with the root token.
async fn seed(root: &Client, fake: &FakeProvider) -> String {
    configure_provider(root, "fake", provider_body("openai", fake, None)).await;
    let v1 = secret("v1");
    for (name, value) in [
        (APP_KEY, v1.clone()),
        ("scratch", secret("s")),
        ("doomed", secret("d")),
    ] {
        fake.add_key(&value);
        create_key(root, name, json!({ "value": value, "provider": "fake" })).await;
    }
    v1
}

/// For each role, every allowed call passes the ACL and every other call is a 403
/// "permission denied" from the server. No role but `app` reads a value, and `app` only its
/// own key's.
#[tokio::test]
async fn each_role_may_make_exactly_its_calls() {
    let bao = Bao::start().await;
    let fake = FakeProvider::start().await;
    let root = bao.client();
    install_roles(&root).await;
    seed(&root, &fake).await;
    let mut checked = 0;
    for role in ROLES {
        let client = login(&bao, role).await;
        let may = allowed(role);
        for c in calls(&fake) {
            let reply = client
                .request(c.method, &format!("ai-keys/{}", c.path), c.body.clone())
                .await;
            if may.contains(&c.id) {
                assert!(
                    !acl_denied(&reply),
                    "{role} must be allowed {} {}: {}",
                    c.method,
                    c.path,
                    reply.text
                );
            } else {
                assert!(
                    acl_denied(&reply),
                    "{role} must be refused {} {} by the ACL, got {}: {}",
                    c.method,
                    c.path,
                    reply.status,
                    reply.text
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 5 * calls(&fake).len());
    // The matrix really ran: the admin deleted `doomed`, and `new-key` exists.
    assert_eq!(root.read("ai-keys/keys/doomed").await.status, 404);
    read_ok(&root, "ai-keys/keys/new-key").await;
}

/// End to end: with `require_separate_approver` (set by the admin), the operator stages
/// and tests, the approver promotes, the application reads the new key (and the old one in
/// grace), the operator extends and the approver finalizes the cut-over, and the auditor reads
/// a history naming the operator as stager and the approver as promoter.
#[tokio::test]
async fn a_rotation_runs_with_the_roles_alone() {
    let bao = Bao::start().await;
    let fake = FakeProvider::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let v1 = seed(&root, &fake).await;
    let [app, operator, approver, auditor, admin] = [
        login(&bao, "app").await,
        login(&bao, "operator").await,
        login(&bao, "approver").await,
        login(&bao, "auditor").await,
        login(&bao, "admin").await,
    ];
    data(
        &admin
            .write(
                "ai-keys/config",
                json!({ "require_separate_approver": true }),
            )
            .await,
        "admin sets require_separate_approver",
    );
    let path = |p: &str| format!("ai-keys/{p}/{APP_KEY}");
    assert_eq!(read_ok(&app, &path("creds")).await["api_key"], v1.as_str());

    let v2 = secret("v2");
    fake.add_key(&v2);
    data(
        &operator.write(&path("stage"), json!({ "value": v2 })).await,
        "operator stages",
    );
    let tested = data(
        &operator.write(&path("test"), json!({})).await,
        "operator tests",
    );
    assert_eq!(tested["outcome"], "passed", "{tested:#}");
    // The operator cannot make it live; the approver can.
    assert!(acl_denied(
        &operator.write(&path("promote"), json!({})).await
    ));
    data(
        &approver.write(&path("promote"), json!({})).await,
        "approver promotes",
    );
    let c = read_ok(&app, &path("creds")).await;
    assert_eq!(c["api_key"], v2.as_str(), "{}", c["version"]);
    assert_eq!(c["previous_api_key"], v1.as_str());

    // The cut-over controls: the operator extends, the approver finalizes.
    let extended = operator
        .write(&path("extend"), json!({ "grace_period": "72h" }))
        .await;
    assert!(extended.is_success(), "operator extends: {}", extended.text);
    let finalized = approver.write(&path("finalize"), json!({})).await;
    assert!(
        finalized.is_success(),
        "approver finalizes: {}",
        finalized.text
    );
    assert!(read_ok(&app, &path("creds"))
        .await
        .get("previous_api_key")
        .is_none());

    let events = history(&auditor, APP_KEY).await;
    let by_on = |event: &str, version: u64| -> String {
        let e = events
            .iter()
            .find(|e| e["event"] == event && e["version"] == version)
            .unwrap_or_else(|| panic!("no {event} event for version {version}: {events:#?}"));
        e["actor"]["display_name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let by = |event: &str| by_on(event, 2);
    assert!(by("staged").contains("operator"), "{events:#?}");
    assert!(by("promoted").contains("approver"), "{events:#?}");
    assert!(
        by_on("grace_extended", 1).contains("operator"),
        "{events:#?}"
    );
    assert!(by_on("finalized", 1).contains("approver"), "{events:#?}");
    assert!(acl_denied(&auditor.read(&path("creds")).await));
}
