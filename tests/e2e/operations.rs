//! Operating the engine (issue 13, items 4-7), against a real OpenBao 2.7.2 and, where keys
//! are created and revoked, the fake provider: metrics as JSON (`bao read`) and as Prometheus
//! text that `promtool check metrics` accepts; the alert rules in deploy/prometheus checked by
//! `promtool check rules` and one of them fired by a real Prometheus scraping a real server; the
//! README's decommissioning procedure run as written; and applications riding out a Vault outage
//! with a file `bao agent` rendered.
//!
//! promtool and prometheus come from the Debian package `prometheus`, which `scripts/test.sh`
//! unpacks into .tools/prometheus (`ensure_prometheus` in scripts/lib/tools.sh).

mod alerting;
mod decommission;
mod metrics;
mod outage;

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::Bao;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `$var`, else `.tools/prometheus/usr/bin/<name>`; a clear failure (never a skip) if missing.
fn prometheus_tool(var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let path = root().join(".tools/prometheus/usr/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/test.sh (or `source scripts/lib/tools.sh; \
         ensure_prometheus`), which unpacks the Debian package prometheus into .tools/prometheus",
        path.display()
    );
    path
}

pub(crate) fn promtool() -> PathBuf {
    prometheus_tool("PROMTOOL_BIN", "promtool")
}

pub(crate) fn prometheus() -> PathBuf {
    prometheus_tool("PROMETHEUS_BIN", "prometheus")
}

/// stdout and stderr of a finished command, for messages.
fn output_text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs the `bao` CLI against `bao`; panics with its output unless it succeeds.
#[track_caller]
fn cli_ok(bao: &Bao, args: &[&str]) -> String {
    let out = bao.bao(args);
    assert!(out.status.success(), "bao {args:?}: {}", output_text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A token with only `policy` (HCL, written as ACL policy `name`); returns the token.
async fn token_with_policy(bao: &Bao, name: &str, policy: &str) -> String {
    let client = bao.client();
    let reply = client
        .write(
            &format!("sys/policies/acl/{name}"),
            serde_json::json!({ "policy": policy }),
        )
        .await;
    assert!(reply.is_success(), "writing policy {name}: {}", reply.text);
    let reply = client
        .write(
            "auth/token/create",
            serde_json::json!({ "policies": [name], "no_default_policy": true, "ttl": "1h" }),
        )
        .await;
    assert!(reply.is_success(), "creating a token: {}", reply.text);
    reply.body["auth"]["client_token"]
        .as_str()
        .expect("client_token")
        .to_owned()
}
