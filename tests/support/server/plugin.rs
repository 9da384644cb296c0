//! The plugin on a dev server: copied into `plugins/`, registered in the catalog by sha256,
//! mounted under its version.

use std::fs;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{
    plugin_sha256, plugin_version, Bao, PLUGIN_BUILD, PLUGIN_COMMAND, PLUGIN_NAME, POLL_INTERVAL,
};

impl Bao {
    /// Copies the built plugin into `plugins/` (a copy, not a link; byte-identical).
    /// Returns its sha256 in hex. Done by [`Bao::register_plugin`].
    pub fn install_plugin(&self) -> String {
        let target = self.dir.path().join("plugins").join(PLUGIN_COMMAND);
        if !target.exists() {
            let copied = fs::copy(PLUGIN_BUILD, &target)
                .unwrap_or_else(|e| panic!("copying {PLUGIN_BUILD} into plugins/: {e}"));
            let built = fs::metadata(PLUGIN_BUILD)
                .expect("plugin build metadata")
                .len();
            assert_eq!(copied, built, "short copy of the plugin binary");
        }
        plugin_sha256().to_owned()
    }

    /// Installs the plugin and registers it in the catalog by sha256, command and version.
    pub async fn register_plugin(&self) {
        let sha256 = self.install_plugin();
        let reply = self
            .client()
            .write(
                &format!("sys/plugins/catalog/secret/{PLUGIN_NAME}"),
                json!({ "sha256": sha256, "command": PLUGIN_COMMAND, "version": plugin_version() }),
            )
            .await;
        assert!(
            reply.is_success(),
            "registering the plugin: HTTP {}: {}\n--- server.log ---\n{}",
            reply.status,
            reply.errors(),
            self.server_log_tail(60)
        );
    }

    /// Mounts the registered plugin at `path` under [`plugin_version`].
    ///
    /// OpenBao 2.7.2 reads the version from `config.plugin_version` (what `bao secrets enable
    /// -plugin-version` sends) and silently ignores a top-level `plugin_version`.
    pub async fn mount_plugin(&self, path: &str) {
        let body = json!({ "type": PLUGIN_NAME, "config": { "plugin_version": plugin_version() } });
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let reply = self
                .client()
                .write(&format!("sys/mounts/{path}"), body.clone())
                .await;
            if reply.is_success() {
                return;
            }
            // ETXTBSY: a concurrent test's fork briefly inherited a writable descriptor of our
            // fresh copy. It clears as soon as that child calls exec; try again.
            if reply.errors().contains("text file busy") && Instant::now() < deadline {
                tokio::time::sleep(POLL_INTERVAL).await;
                continue;
            }
            panic!(
                "mounting the plugin at {path}/: HTTP {}: {}\n--- server.log ---\n{}",
                reply.status,
                reply.errors(),
                self.server_log_tail(80)
            );
        }
    }
}
