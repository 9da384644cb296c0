//! The built plugin binary run the ways a person or the host's database probe runs it: no
//! server, no OpenBao needed.
//!
//! By hand (no magic cookie) it explains itself on stderr and exits 1 without serving;
//! `--version` prints its version on stdout and exits 0; the host's database probe (another
//! cookie) gets an exit 1 without serving. "Without serving" is shown by what a serving plugin
//! leaves and these runs must not: a Unix socket in its socket directory, a handshake line on
//! stdout, hclog lines on stderr. How fast they exit is a figure of scripts/bench.sh.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap or expect is a failed test"
)]

use std::process::{Command, Output, Stdio};

use vault_plugin_secrets_ai_keys::VERSION;

const BIN: &str = env!("CARGO_BIN_EXE_vault-plugin-secrets-ai-keys");

/// Runs the binary with exactly `env` (nothing inherited but `TMPDIR`, a fresh directory) and
/// `args`; the output, and whether the run left anything in `TMPDIR`, where a serving plugin
/// binds its socket.
fn run(args: &[&str], env: &[(&str, &str)]) -> (Output, bool) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {BIN}: {e}"));
    let left = std::fs::read_dir(tmp.path())
        .expect("reading the temporary directory")
        .next()
        .is_some();
    (output, left)
}

/// Nothing a serving plugin leaves: no socket file, no handshake line, no hclog line.
#[track_caller]
fn assert_did_not_serve(out: &Output, left: bool, what: &str) {
    assert!(
        !left,
        "{what}: a file in its socket directory: did it start serving?"
    );
    assert!(
        !text(&out.stdout).contains("|unix|"),
        "{what}: a handshake line: {}",
        text(&out.stdout)
    );
    assert!(
        !text(&out.stderr).contains("\"@level\""),
        "{what}: hclog lines, so logging started: {}",
        text(&out.stderr)
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

#[test]
fn by_hand_it_explains_how_to_register_and_exits_1() {
    let (out, left) = run(&[], &[("PATH", "/usr/bin:/bin")]);
    assert_eq!(out.status.code(), Some(1), "exit status of a hand run");
    assert_did_not_serve(&out, left, "a hand run");
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    let err = text(&out.stderr);
    for needed in [
        &format!("vault-plugin-secrets-ai-keys v{VERSION}") as &str,
        "not meant to be run directly",
        "plugin_directory",
        "bao plugin register -sha256=",
        &format!("-version=v{VERSION} -command=vault-plugin-secrets-ai-keys secret ai-keys"),
        &format!("bao secrets enable -path=ai-keys -plugin-version=v{VERSION} ai-keys"),
        &format!("bao secrets tune -plugin-version=v{VERSION} ai-keys/"),
        "bao plugin reload -plugin=ai-keys -scope=global",
        "running_plugin_version sys/mounts/ai-keys",
        "--version",
        "docs/operating.md",
    ] {
        assert!(err.contains(needed), "{needed:?} missing from:\n{err}");
    }
    // Not a log line: people read it, the host never sees it.
    assert!(!err.contains("@level"), "hclog JSON in the help:\n{err}");
}

#[test]
fn unknown_arguments_by_hand_get_the_same_explanation() {
    let (out, _) = run(&["serve", "--help"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not meant to be run directly"));
}

#[test]
fn version_flag_prints_the_reported_version_and_exits_0() {
    for flag in ["--version", "-version"] {
        let (out, left) = run(&[flag], &[]);
        assert_eq!(out.status.code(), Some(0), "{flag}: {}", text(&out.stderr));
        assert_did_not_serve(&out, left, flag);
        assert_eq!(
            text(&out.stdout),
            format!("vault-plugin-secrets-ai-keys v{VERSION}\n"),
            "{flag}"
        );
        assert!(out.stderr.is_empty(), "{flag}: {}", text(&out.stderr));
    }
}

/// The host launches every catalog binary as a database plugin first (plugin-protocol.md 1.3):
/// another cookie, to which we must answer with an exit 1 before starting anything.
#[test]
fn the_hosts_database_probe_gets_an_exit_1_without_a_server() {
    let (out, left) = run(
        &[],
        &[
            (
                "VAULT_DATABASE_PLUGIN",
                "926a0820-aea2-be28-51d6-83cdf00e8edb",
            ),
            ("PLUGIN_PROTOCOL_VERSIONS", "5"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_did_not_serve(&out, left, "the database probe");
    assert!(
        out.stdout.is_empty(),
        "a handshake line on stdout would confuse the host"
    );
}

/// With our cookie but a protocol the plugin does not speak, the message is the precise one.
#[test]
fn our_cookie_with_an_unsupported_protocol_says_so() {
    let (out, _) = run(
        &[],
        &[
            (
                "VAULT_BACKEND_PLUGIN",
                "6669da05-b1c8-4f49-97d9-c8e5bed98e20",
            ),
            ("PLUGIN_PROTOCOL_VERSIONS", "4"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("speaks only version 5"),
        "{}",
        text(&out.stderr)
    );
}
