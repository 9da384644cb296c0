//! Registration: `bao secrets enable` with a version, and the probe that reads the version the
//! plugin reports.

use std::io::ErrorKind;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{cli_json, cli_ok, single_plugin_pid, EXIT_DEADLINE, NOT_GRACEFUL};
use crate::config::{default_config, read_config};
use crate::support::{plugin_sha256, plugin_version, poll_until, server, Bao};

/// Waits until the copied plugin binary can be executed (no `ETXTBSY`).
///
/// A test thread that forked while the harness was copying the binary holds a writable
/// descriptor of the copy until that child calls exec, and the host's launch of the plugin
/// then fails with "text file busy". Registration treats a failed launch as "unknown version"
/// instead of failing, which would make the registration tests flaky. Once one exec of the copy
/// succeeds no such descriptor is left, and none can appear again: the copy is closed.
async fn wait_executable(path: &Path) {
    poll_until(
        "the copied plugin binary to be executable (no ETXTBSY)",
        Duration::from_secs(5),
        || async move {
            match Command::new(path)
                .env_clear()
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
            {
                Ok(_) => true,
                Err(e) if e.kind() == ErrorKind::ExecutableFileBusy => false,
                Err(e) => panic!("running {}: {e}", path.display()),
            }
        },
    )
    .await;
}

/// `bao secrets enable -plugin-version=...` mounts the plugin and `secrets list -detailed`
/// reports the version the running plugin reports about itself, and the binary's sha256.
#[tokio::test]
async fn cli_secrets_enable_reports_running_version() {
    let bao = Bao::start_unmounted().await;
    wait_executable(bao.plugin_path()).await;
    let version = plugin_version();
    assert_eq!(version, format!("v{}", env!("CARGO_PKG_VERSION")));
    assert!(
        bao.plugin_pids().is_empty(),
        "no plugin process before the mount"
    );

    let stdout = cli_ok(
        &bao,
        &[
            "secrets",
            "enable",
            "-path=ai-keys",
            &format!("-plugin-version={version}"),
            "ai-keys",
        ],
    );
    assert!(
        stdout.contains("Success! Enabled the ai-keys secrets engine"),
        "{stdout}"
    );

    let mounts = cli_json(&bao, &["secrets", "list", "-detailed", "-format=json"]);
    let mount = &mounts["ai-keys/"];
    assert!(mount.is_object(), "ai-keys/ missing from {mounts:#}");
    assert_eq!(mount["type"], "ai-keys", "{mount:#}");
    assert_eq!(mount["plugin_version"], version.as_str(), "{mount:#}");
    assert_eq!(
        mount["running_plugin_version"],
        version.as_str(),
        "{mount:#}"
    );
    assert_eq!(mount["running_sha256"], plugin_sha256(), "{mount:#}");

    // The mount runs exactly one plugin process, and it answers.
    single_plugin_pid(&bao);
    assert_eq!(read_config(&bao.client()).await, default_config());
}

/// Registration launches the plugin and reads its version: without `-version` the entry is
/// stored under the version the plugin reports; with a different `-version` registration fails.
#[tokio::test]
async fn registration_probe_reads_the_plugin_version() {
    let bao = Bao::start_bare().await;
    let sha256 = bao.install_plugin();
    wait_executable(bao.plugin_path()).await;
    let version = plugin_version();
    let client = bao.client();
    let catalog = "sys/plugins/catalog/secret/ai-keys";
    let sha_flag = format!("-sha256={sha256}");
    let command_flag = format!("-command={}", server::PLUGIN_COMMAND);

    // Without -version: stored under the self-reported version, not unversioned.
    let stdout = cli_ok(
        &bao,
        &[
            "plugin",
            "register",
            &sha_flag,
            &command_flag,
            "secret",
            "ai-keys",
        ],
    );
    assert!(
        stdout.contains("Success! Registered plugin: ai-keys"),
        "{stdout}"
    );
    let entry = client.read(&format!("{catalog}?version={version}")).await;
    entry.expect_status(200);
    assert_eq!(entry.data()["version"], version.as_str());
    assert_eq!(entry.data()["sha256"], sha256.as_str());
    assert_eq!(entry.data()["command"], server::PLUGIN_COMMAND);
    let unversioned = client.read(catalog).await;
    assert_eq!(unversioned.status, 404, "{}", unversioned.text);

    // With a different -version: refused, naming both versions, and nothing stored.
    let out = bao.bao(&[
        "plugin",
        "register",
        &sha_flag,
        &command_flag,
        "-version=v9.9.9",
        "secret",
        "ai-keys",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "registered as v9.9.9: {stderr}");
    assert!(stderr.contains("Code: 400"), "{stderr}");
    assert!(stderr.contains("plugin version mismatch"), "{stderr}");
    assert!(
        stderr.contains(&format!("reported version ({version})")),
        "{stderr}"
    );
    assert!(stderr.contains("requested version (v9.9.9)"), "{stderr}");
    let mismatched = client.read(&format!("{catalog}?version=v9.9.9")).await;
    assert_eq!(mismatched.status, 404, "{}", mismatched.text);

    // The probe processes exited on the host's Shutdown, without a forced kill.
    bao.wait_for("the probe processes to exit", EXIT_DEADLINE, || {
        bao.plugin_pids().is_empty()
    })
    .await;
    assert!(
        !bao.server_log().contains(NOT_GRACEFUL),
        "{}",
        bao.server_log_tail(40)
    );
}
