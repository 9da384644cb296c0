//! The engine's metrics, against a real OpenBao 2.7.2 and, where keys are created and revoked,
//! the fake provider: `metrics` as JSON (`bao read`) and as Prometheus text, checked by a strict
//! text-format parser here and by `promtool check metrics`; the gauges and counters on real
//! records; the alert rules in deploy/prometheus checked by `promtool check rules` and
//! `promtool test rules`, and one of them fired by a real Prometheus scraping a real server;
//! every runbook command run as the shipped role it names, with the two-person rule off and on.
//!
//! promtool and prometheus come from the Debian package `prometheus`, which `scripts/test.sh`
//! unpacks into .tools/prometheus (`ensure_prometheus` in scripts/lib/tools.sh).

mod alerting;
mod json_and_promtool;
mod runbooks;
mod text_format;

pub(crate) use json_and_promtool::promtool_check_metrics;

use std::path::PathBuf;

use crate::support::checks::repo_root;

/// `$var`, else `.tools/prometheus/usr/bin/<name>`; a clear failure (never a skip) if missing.
fn prometheus_tool(var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let path = repo_root().join(".tools/prometheus/usr/bin").join(name);
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
