//! The binary run outside a host: the cookie check refuses at once.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::process;

/// The go-plugin magic cookie of database plugins (the host's first probe of an untyped binary).
const DATABASE_COOKIE: &str = "926a0820-aea2-be28-51d6-83cdf00e8edb";
/// The go-plugin magic cookie of backend plugins.
const BACKEND_COOKIE: &str = "6669da05-b1c8-4f49-97d9-c8e5bed98e20";
/// The plugin binary cargo built.
const PLUGIN_BUILD: &str = env!("CARGO_BIN_EXE_vault-plugin-secrets-ai-keys");

/// Runs the plugin binary directly with exactly `env`, killing it after `limit`.
/// Returns its output and how long it ran.
fn run_plugin_binary(env: &[(&str, &str)], limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(PLUGIN_BUILD)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the plugin binary");
    // Bounded wait: a plugin that starts serving instead of exiting must not hang the test.
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                process::stop_child(&mut child, Duration::from_millis(100));
                panic!("the plugin binary ran longer than {limit:?} with env {env:?}");
            }
            Err(e) => panic!("waiting for the plugin binary: {e}"),
        }
    }
    let elapsed = started.elapsed();
    let output = child.wait_with_output().expect("collecting the output");
    (output, elapsed)
}

/// Run by hand, or probed as a database plugin, the binary refuses at once: exit 1, nothing
/// on stdout (the host would read it as the handshake line), a clear message on stderr.
#[tokio::test]
async fn binary_refuses_to_run_outside_a_host() {
    let cases: [(&str, &[(&str, &str)]); 4] = [
        ("no environment", &[]),
        (
            "database probe",
            &[
                ("VAULT_DATABASE_PLUGIN", DATABASE_COOKIE),
                ("PLUGIN_PROTOCOL_VERSIONS", "5,6"),
            ],
        ),
        (
            "wrong backend cookie",
            &[
                ("VAULT_BACKEND_PLUGIN", "not-the-cookie"),
                ("PLUGIN_PROTOCOL_VERSIONS", "5"),
            ],
        ),
        (
            "backend v4 fallback",
            &[
                ("VAULT_BACKEND_PLUGIN", BACKEND_COOKIE),
                ("PLUGIN_PROTOCOL_VERSIONS", "3,4"),
            ],
        ),
    ];
    for (case, env) in cases {
        let (out, took) = run_plugin_binary(env, Duration::from_secs(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{case}: {} {stderr}",
            out.status
        );
        assert!(took < Duration::from_secs(2), "{case}: took {took:?}");
        assert!(
            out.stdout.is_empty(),
            "{case}: stdout {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!stderr.trim().is_empty(), "{case}: nothing on stderr");
        assert!(
            !stderr.contains("panicked"),
            "{case}: a panic, not a message: {stderr}"
        );
        if case == "backend v4 fallback" {
            assert!(stderr.contains('5'), "{case}: names version 5: {stderr}");
        } else {
            assert!(
                stderr.contains("OpenBao") || stderr.contains("Vault"),
                "{case}: stderr does not mention OpenBao/Vault: {stderr}"
            );
        }
    }
}
