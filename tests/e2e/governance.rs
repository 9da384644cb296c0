//! Governance and evidence (issue 11): the five ready-to-use ACL roles shipped in `policies/`
//! (each user logs in through userpass holding exactly one of them, read from the repository so
//! the files stay the single source), and the audit-log proof that no key value is ever logged
//! in clear while the HMAC of each new value appears exactly where `creds/` handed it out.

mod audit;
mod report;
mod roles;

use std::path::PathBuf;

use serde_json::json;

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
