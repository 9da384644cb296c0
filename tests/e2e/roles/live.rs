//! The policy headers against a real server: a user holding only one role is let through the
//! ACL, and the engine carries out the request, for every `can` line; the ACL refuses every
//! `cannot` line; the headers cover exactly the paths the plugin's OpenAPI document serves; and
//! a rotation runs with the roles alone under the two-person rule, where the rotator's one-call
//! rotation is refused by the engine.

mod exercise;

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::header::{header, MOUNT_PREFIX, SURFACE};
use super::{acl_denied, install_roles, login, APP_KEY, ROLES};
use crate::providers::{configure_provider, create_key, provider_body};
use crate::support::checks::{data, expect_error, history, read_ok, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::raw::{raw_get, raw_put_reloaded};
use crate::support::tick::is_test_hook;
use crate::support::{Bao, Client};
use exercise::exercise;

/// For each role, every `can` line of its policy header (each capability of it) is let through
/// the ACL and carried out by the engine (2xx), and every `cannot` line is refused by the ACL
/// (403 "permission denied", which the engine never answers): the headers are what the files
/// grant on a real server, operation by operation.
#[tokio::test]
async fn each_role_is_allowed_its_can_lines_and_refused_its_cannot_lines() {
    let bao = Bao::start().await;
    let fake = FakeProvider::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let mut checked = 0;
    for role in ROLES {
        let client = login(&bao, role).await;
        for (n, line) in header(role).lines.iter().enumerate() {
            for capability in &line.capabilities {
                let name = format!("{role}-{n}-{capability}");
                let r = exercise(&root, &fake, capability, &line.path, &name).await;
                let reply = client
                    .request(r.method, &format!("{MOUNT_PREFIX}{}", r.path), r.body)
                    .await;
                let what = format!(
                    "{role}: {capability} {} ({} {})",
                    line.path, r.method, r.path
                );
                if line.can {
                    assert!(
                        reply.is_success(),
                        "{what} is a `can` line: expected success, got {}: {}",
                        reply.status,
                        reply.text
                    );
                } else {
                    assert!(
                        acl_denied(&reply),
                        "{what} is a `cannot` line: expected the ACL's 403, got {}: {}",
                        reply.status,
                        reply.text
                    );
                }
                checked += 1;
            }
        }
    }
    // Every role said something about every operation (header.rs checks that it said it once).
    let operations: usize = SURFACE.iter().map(|(_, caps)| caps.len()).sum();
    assert!(checked >= ROLES.len() * operations, "{checked} checks");
}

/// The paths and methods of the plugin's OpenAPI document, as (path under the mount in the
/// headers' notation, HTTP method): `keys/{name}` is `keys/*`, and the LIST of `keys/` is
/// `keys/*` with method LIST.
async fn documented_operations(bao: &Bao) -> BTreeSet<(String, String)> {
    let reply = bao.client().read("sys/internal/specs/openapi").await;
    reply.expect_status(200);
    let spec = reply.body;
    let paths = spec["paths"].as_object().expect("OpenAPI paths");
    let mut ops = BTreeSet::new();
    for (template, item) in paths {
        let Some(path) = template.strip_prefix(&format!("/{MOUNT_PREFIX}")) else {
            continue;
        };
        // The test builds' tick hook is no path of a release, which the policies are for.
        if is_test_hook(template) {
            continue;
        }
        // The issuer's documents are unauthenticated (SpecialPaths): no policy governs them.
        if path.starts_with(".well-known/") {
            continue;
        }
        let (path, listing) = match path.strip_suffix('/') {
            Some(family) if !family.is_empty() => (format!("{family}/*"), true),
            _ => (path.replace("{name}", "*"), false),
        };
        for method in ["get", "post", "delete", "patch", "put"] {
            if item[method].is_object() {
                let method = match (method, listing) {
                    ("get", true) => "LIST".to_owned(),
                    (m, _) => m.to_uppercase(),
                };
                ops.insert((path.clone(), method));
            }
        }
    }
    ops
}

/// [`SURFACE`] as (path, HTTP method): read is GET, list is LIST, create and update are POST.
fn surface_operations() -> BTreeSet<(String, String)> {
    SURFACE
        .iter()
        .flat_map(|(path, caps)| {
            caps.iter().map(move |cap| {
                let method = match *cap {
                    "read" => "GET",
                    "list" => "LIST",
                    "create" | "update" => "POST",
                    "delete" => "DELETE",
                    other => panic!("no method for {other}"),
                };
                (path.to_string(), method.to_owned())
            })
        })
        .collect()
}

/// The operations the headers must each cover ([`SURFACE`]) are exactly those the plugin
/// documents: a new path family or method in the engine fails here until every header says
/// whether its role can use it.
#[tokio::test]
async fn the_headers_cover_exactly_the_operations_the_engine_documents() {
    let bao = Bao::start().await;
    let documented = documented_operations(&bao).await;
    let surface = surface_operations();
    let undocumented: Vec<_> = surface.difference(&documented).collect();
    let uncovered: Vec<_> = documented.difference(&surface).collect();
    assert!(
        undocumented.is_empty() && uncovered.is_empty(),
        "in SURFACE (tests/e2e/roles/header.rs) but not in the OpenAPI document: \
         {undocumented:?}; served by the engine but in no header: {uncovered:?}"
    );
}

/// End to end: with `require_separate_approver` (set by the admin), the operator stages
/// and tests, the approver promotes, the application reads the new key (and the old one in
/// grace), the operator extends and the approver finalizes the cut-over, and the auditor reads
/// a history naming the operator as stager and the approver as promoter. The rotator's
/// one-call rotation passes the ACL but the engine refuses it while the rule is on.
#[tokio::test]
async fn a_rotation_runs_with_the_roles_alone() {
    let bao = Bao::start().await;
    let fake = FakeProvider::start().await;
    let root = bao.client();
    install_roles(&root).await;
    configure_provider(&root, "fake", provider_body("openai", &fake, None)).await;
    let v1 = secret("v1");
    fake.add_key(&v1);
    create_key(&root, APP_KEY, json!({ "value": v1, "provider": "fake" })).await;
    let [app, operator, approver, rotator, auditor, admin] = [
        login(&bao, "app").await,
        login(&bao, "operator").await,
        login(&bao, "approver").await,
        login(&bao, "rotator").await,
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

    // The one-person path: the ACL lets the rotator through, the engine refuses.
    let v = secret("alone");
    fake.add_key(&v);
    let alone = rotator.write(&path("rotate"), json!({ "value": v })).await;
    expect_error(
        &alone,
        403,
        &["require_separate_approver"],
        "the rotator under the rule",
    );
    assert!(!acl_denied(&alone), "the engine's refusal: {}", alone.text);

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
    // The operator cannot make it live, neither by promote/ nor by rotate/; the approver can.
    assert!(acl_denied(
        &operator.write(&path("promote"), json!({})).await
    ));
    assert!(acl_denied(
        &operator.write(&path("rotate"), json!({})).await
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
