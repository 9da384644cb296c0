//! Registration from the server configuration (OpenBao 2.5+, "declarative plugins"): a local
//! binary declared with `plugin "secret" "ai-keys" { command, version, sha256sum }` and
//! `plugin_auto_register = true` is in the catalog at startup, with no `bao plugin register`,
//! and mounts like a registered one. The sha256 still guards the binary.

use serde_json::json;

use crate::support::builds::{install_in, PluginBuild};
use crate::support::checks::{read_ok, secret, write_ok};
use crate::support::Bao;

/// The `plugin` stanza an operator writes (docs/operating.md).
fn declaration(name: &str, build: &PluginBuild, sha256: &str) -> String {
    format!(
        r#"
plugin "secret" "{name}" {{
  command   = "{command}"
  version   = "{version}"
  sha256sum = "{sha256}"
}}
"#,
        command = build.command(),
        version = build.version,
    )
}

#[tokio::test]
async fn a_plugin_declared_in_the_server_config_is_registered_and_mounts() {
    let build = PluginBuild::current();
    // Same binary declared under a second name with a wrong sha256: it must not run.
    let wrong = "0".repeat(64);
    let bao = Bao::start_configured(|plugin_dir| {
        install_in(plugin_dir, build);
        "plugin_auto_register = true\n".to_owned()
            + &declaration("ai-keys", build, &build.sha256)
            + &declaration("ai-keys-tampered", build, &wrong)
    })
    .await;
    let client = bao.client();

    let entry = read_ok(
        &client,
        &format!(
            "sys/plugins/catalog/secret/ai-keys?version={}",
            build.version
        ),
    )
    .await;
    assert_eq!(entry["sha256"], build.sha256.as_str(), "{entry}");
    assert_eq!(entry["command"], build.command(), "{entry}");
    assert_eq!(entry["version"], build.version.as_str(), "{entry}");

    let out = bao.bao(&[
        "secrets",
        "enable",
        "-path=ai-keys",
        &format!("-plugin-version={}", build.version),
        "ai-keys",
    ]);
    assert!(
        out.status.success(),
        "bao secrets enable: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mount = read_ok(&client, "sys/mounts/ai-keys").await;
    assert_eq!(mount["running_plugin_version"], build.version.as_str());
    assert_eq!(mount["running_sha256"], build.sha256.as_str());
    let value = secret("declared");
    write_ok(&client, "ai-keys/keys/app", json!({ "value": value })).await;
    assert_eq!(
        read_ok(&client, "ai-keys/creds/app").await["api_key"],
        value.as_str()
    );

    // The declaration's sha256 is enforced: the same file under a wrong sum never runs.
    let out = bao.bao(&[
        "secrets",
        "enable",
        "-path=tampered",
        &format!("-plugin-version={}", build.version),
        "ai-keys-tampered",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a wrong sha256 mounted: {stderr}");
    assert!(
        stderr.contains("checksum") || stderr.contains("sha256"),
        "the refusal should name the checksum: {stderr}"
    );
}
