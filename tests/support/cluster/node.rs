//! One `bao server` of the cluster: its `node.hcl` (Raft, `retry_join` to every node, the
//! declarative plugin stanza) and its process, logging to `server.log`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::super::server::{bao_bin, plugin_version, PLUGIN_COMMAND, PLUGIN_NAME};
use super::Node;

impl Node {
    pub(super) fn spawn(name: String, dir: PathBuf, api_port: u16, cluster_port: u16) -> Node {
        let log = fs::File::create(dir.join("server.log")).expect("creating server.log");
        Node::spawn_logging_to(log, name, dir, api_port, cluster_port)
    }

    /// [`Node::spawn`] appending to the node's existing log (a restart).
    pub(super) fn spawn_appending(
        name: String,
        dir: PathBuf,
        api_port: u16,
        cluster_port: u16,
    ) -> Node {
        let log = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.join("server.log"))
            .expect("opening server.log");
        Node::spawn_logging_to(log, name, dir, api_port, cluster_port)
    }

    fn spawn_logging_to(
        log: fs::File,
        name: String,
        dir: PathBuf,
        api_port: u16,
        cluster_port: u16,
    ) -> Node {
        let log_err = log.try_clone().expect("cloning the server.log handle");
        let child = Command::new(bao_bin())
            .arg("server")
            .arg(format!("-config={}", dir.join("node.hcl").display()))
            // Plugins inherit the server's environment: keep their loopback calls off any proxy.
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bao_bin().display()));
        Node {
            addr: format!("http://127.0.0.1:{api_port}"),
            plugin_path: dir.join("plugins").join(PLUGIN_COMMAND),
            pid: child.id(),
            child: Some(child),
            name,
            api_port,
            cluster_port,
            dir,
            seen_plugin_pids: Mutex::new(BTreeSet::new()),
        }
    }
}

pub(super) fn node_config(
    name: &str,
    dir: &Path,
    api_port: u16,
    cluster_port: u16,
    all_api_ports: &[u16],
    sha256: &str,
) -> String {
    let dir = dir.display();
    let retry_join: String = all_api_ports
        .iter()
        .map(|p| format!("  retry_join {{\n    leader_api_addr = \"http://127.0.0.1:{p}\"\n  }}\n"))
        .collect();
    let version = plugin_version();
    format!(
        r#"# Written by tests/support/cluster/node.rs for one node of a three-node test cluster.
api_addr     = "http://127.0.0.1:{api_port}"
cluster_addr = "https://127.0.0.1:{cluster_port}"
log_level    = "debug"

listener "tcp" {{
  address         = "127.0.0.1:{api_port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable     = true
}}

storage "raft" {{
  path                   = "{dir}/data"
  node_id                = "{name}"
  performance_multiplier = 1
  # Autopilot promotes a joined non-voter on its reconcile tick (default every 10 s).
  autopilot_reconcile_interval = "1s"
  autopilot_update_interval    = "500ms"
{retry_join}}}

plugin_directory     = "{dir}/plugins"
plugin_auto_register = true

plugin "secret" "{PLUGIN_NAME}" {{
  command   = "{PLUGIN_COMMAND}"
  version   = "{version}"
  sha256sum = "{sha256}"
}}
"#
    )
}
