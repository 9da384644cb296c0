//! The six ready-to-use ACL roles shipped in `policies/` (app, operator, approver, rotator,
//! auditor, admin), read from the repository so the files stay the single source. Each file's
//! header says what the role can and cannot do, one `# can:` or `# cannot:` line per path of the
//! engine (format in `header`); the tests hold the headers to the files' `path` blocks
//! (`header`), to a real server where a userpass user holds exactly one role (`live`), and the
//! documentation to the headers (`docs`).
//!
//! [`install_roles`] and [`login`] also serve the `audit`, `reports` and `metrics::runbooks`
//! tests, which act as these roles.

mod docs;
mod header;
mod live;

use std::path::PathBuf;

use serde_json::json;

use crate::support::{Bao, Client, Reply};

/// The six roles, each a file `policies/<role>.hcl`, in the order the docs show them.
pub(crate) const ROLES: [&str; 7] = [
    "app",
    "operator",
    "approver",
    "rotator",
    "auditor",
    "admin",
    "responder",
];

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
