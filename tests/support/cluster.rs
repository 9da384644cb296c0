//! A real three-node OpenBao cluster with integrated Raft on loopback, the plugin mounted at
//! `ai-keys/` (openbao.md, "Three-node cluster with integrated Raft").
//!
//! Each node is a `bao server` (not `-dev`) with its own directory: `node.hcl`, `data/` (Raft),
//! `plugins/` holding a byte-identical copy of the plugin binary, and `server.log`. The plugin is
//! registered declaratively (`plugin_auto_register` and a `plugin "secret" "ai-keys"` stanza with
//! command, version and sha256sum), as an operator of a cluster would: every node knows it from
//! its own config, nothing has to be registered by API.
//!
//! Start-up: three servers on six free loopback ports (API and cluster address per node), init
//! with one key share on node 1, unseal node 1, unseal nodes 2 and 3 once `retry_join` reached
//! the leader, wait until the Raft configuration shows three voters and every standby knows the
//! leader, then mount through the leader. Autopilot is tuned (reconcile every 1 s, server
//! stabilization 1 s) so that joined nodes become voters about 3 s after joining instead of
//! 10-20 s; `retry_join` itself retries every 2 s. A node that loses a port race to a parallel
//! process (the address is probed free, released, then bound by the server) makes the whole
//! attempt start again on fresh ports.
//!
//! Dropping a [`Cluster`] stops every server by PID (SIGTERM to all, up to 5 s, then SIGKILL) and
//! kills the plugin processes it saw that outlived their server (re-checking each one's
//! executable right before the signal, in case the PID was reused).
//!
//! The parts: [`start`] (start-up, join, retry on a lost port race, the mount), [`node`] (one
//! server process: its config and spawn), [`operations`] (what tests do with running nodes:
//! probe, kill, stop, restart, logs, wait), [`stop`] (stopping everything, and drop).

mod node;
mod operations;
mod start;
mod stop;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Mutex;
use std::time::Duration;

use tempfile::TempDir;

use super::client::Client;

/// Nodes in the cluster.
pub const NODES: usize = 3;
/// The plugin binary cargo built for this test run.
const PLUGIN_BUILD: &str = env!("CARGO_BIN_EXE_vault-plugin-secrets-ai-keys");
/// Set to keep the cluster's directory (configs, logs, Raft data) after the test.
const KEEP_ENV: &str = "AI_KEYS_E2E_KEEP";

const START_ATTEMPTS: usize = 3;
/// Bound of each start-up phase (listen, init, join, unseal, voters, mount).
const PHASE_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_GRACE: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// Autopilot's `server_stabilization_time`: how long a joined node must be healthy before it
/// becomes a voter (default 10 s).
const STABILIZATION: &str = "1s";
/// Per-request bound while polling a node that may be down or busy electing.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One `bao server` of the cluster.
pub struct Node {
    /// `node1`, `node2`, `node3` (also the Raft `node_id`).
    pub name: String,
    /// `http://127.0.0.1:PORT`
    pub addr: String,
    api_port: u16,
    cluster_port: u16,
    dir: PathBuf,
    child: Option<Child>,
    pid: u32,
    /// Canonical path of this node's plugin copy (what `/proc/PID/exe` shows).
    plugin_path: PathBuf,
    /// Every plugin PID seen under this node, to kill survivors on drop.
    seen_plugin_pids: Mutex<BTreeSet<u32>>,
}

/// A running, unsealed three-node cluster with `ai-keys/` mounted; stopped on drop.
pub struct Cluster {
    pub nodes: Vec<Node>,
    /// The root token from `sys/init`.
    pub root_token: String,
    /// The single unseal key share from `sys/init`, to unseal nodes again after a restart.
    pub unseal_key: String,
    /// From the start of [`Cluster::start`] (copying the plugin three times included) to the
    /// mount answering through every node.
    pub setup_time: Duration,
    http: reqwest::Client,
    dir: TempDir,
}

enum Attempt {
    /// A server lost a port race: start again on fresh ports.
    PortTaken(String),
    Fatal(String),
}

impl Cluster {
    /// A client for node `i` with the root token.
    pub fn client(&self, i: usize) -> Client {
        self.node_client(i, &self.root_token)
    }

    fn node_client(&self, i: usize, token: &str) -> Client {
        Client::with_http(self.http.clone(), &self.nodes[i].addr, token)
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
