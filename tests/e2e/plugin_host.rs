//! The plugin in its host, a real OpenBao 2.7.2: registration (`bao secrets enable` with a
//! version, the probe that reads the version, a binary declared in the server configuration),
//! the plugin process's lifetime (state and `config` through a reload and a crash, a quick
//! unmount, its own exit when the host dies), logging through the host, the refusal to run
//! outside a host, and `path-help` and the OpenAPI document for every path.
//!
//! Host behaviour relied on: plugin-protocol.md sections 3 and 8.1-8.5.

mod declarative;
mod help;
mod lifetime;
mod logging;
mod registration;
mod reload;
mod standalone;

use std::time::Duration;

use serde_json::Value;

use crate::support::Bao;

/// How long a plugin process may take to go away once the host no longer needs it.
const EXIT_DEADLINE: Duration = Duration::from_secs(5);
/// What the host logs when a plugin ignored Shutdown and had to be SIGKILLed.
const NOT_GRACEFUL: &str = "plugin failed to exit gracefully";
/// The plugin's info line on Initialize.
const INIT_MESSAGE: &str = "ai-keys secrets engine initializing";

/// Runs the CLI and asserts it succeeded; returns its stdout.
#[track_caller]
pub(crate) fn cli_ok(bao: &Bao, args: &[&str]) -> String {
    let out = bao.bao(args);
    assert!(
        out.status.success(),
        "bao {}: {}\nstdout: {}\nstderr: {}\n--- server.log (tail) ---\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        bao.server_log_tail(40)
    );
    String::from_utf8(out.stdout).expect("CLI output is UTF-8")
}

/// Runs the CLI with `-format=json` output already in `args`; parses stdout.
#[track_caller]
fn cli_json(bao: &Bao, args: &[&str]) -> Value {
    let stdout = cli_ok(bao, args);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("bao {}: not JSON ({e}): {stdout}", args.join(" ")))
}

/// The single live plugin process of `bao`; panics (with the log) unless there is exactly one.
#[track_caller]
fn single_plugin_pid(bao: &Bao) -> u32 {
    let pids = bao.plugin_pids();
    assert_eq!(
        pids.len(),
        1,
        "expected one plugin process, got {pids:?}\n--- server.log (tail) ---\n{}",
        bao.server_log_tail(40)
    );
    pids[0]
}

/// Lines of the server log that contain `needle`.
fn log_lines(bao: &Bao, needle: &str) -> Vec<String> {
    bao.server_log()
        .lines()
        .filter(|line| line.contains(needle))
        .map(str::to_owned)
        .collect()
}
