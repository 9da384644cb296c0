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

use std::collections::BTreeSet;
use std::fs;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;
use tempfile::TempDir;

use super::client::{http_client, Client, Reply};
use super::process;
use super::server::{
    bao_bin, plugin_sha256, plugin_version, MOUNT_PATH, PLUGIN_COMMAND, PLUGIN_NAME,
};

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
    /// Starts, initialises, unseals and joins three nodes, then mounts the plugin through the
    /// leader and waits until the mount answers on every node.
    pub async fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("ai-keys-cluster-")
            .tempdir()
            .expect("creating the cluster's temporary directory");
        let started = Instant::now();
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let sha256 = plugin_sha256().to_owned();
        for i in 1..=NODES {
            let plugins = root.join(format!("node{i}/plugins"));
            fs::create_dir_all(&plugins).expect("creating plugins/");
            let copied = fs::copy(PLUGIN_BUILD, plugins.join(PLUGIN_COMMAND))
                .unwrap_or_else(|e| panic!("copying {PLUGIN_BUILD} for node{i}: {e}"));
            let built = fs::metadata(PLUGIN_BUILD).expect("plugin metadata").len();
            assert_eq!(copied, built, "short copy of the plugin binary for node{i}");
        }
        let http = http_client();
        let mut cluster = Cluster {
            nodes: Vec::new(),
            root_token: String::new(),
            unseal_key: String::new(),
            setup_time: Duration::ZERO,
            http,
            dir,
        };
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            match cluster.try_start(&root, &sha256).await {
                Ok(()) => {
                    cluster.mount().await;
                    cluster.setup_time = started.elapsed();
                    return cluster;
                }
                Err(Attempt::PortTaken(why)) => {
                    cluster.stop_all();
                    last = why;
                }
                Err(Attempt::Fatal(why)) => {
                    let logs = cluster.log_tails(60);
                    cluster.stop_all();
                    panic!("the cluster did not start: {why}\n{logs}");
                }
            }
        }
        panic!("the cluster lost a port race {START_ATTEMPTS} times; last: {last}");
    }

    /// One start attempt on fresh ports and empty Raft directories.
    async fn try_start(&mut self, root: &Path, sha256: &str) -> Result<(), Attempt> {
        let ports = free_ports(2 * NODES);
        let api: Vec<u16> = (0..NODES).map(|i| ports[2 * i]).collect();
        self.nodes.clear();
        for i in 0..NODES {
            let name = format!("node{}", i + 1);
            let dir = root.join(&name);
            let data = dir.join("data");
            let _ = fs::remove_dir_all(&data);
            fs::create_dir_all(&data).expect("creating data/");
            let config = node_config(&name, &dir, ports[2 * i], ports[2 * i + 1], &api, sha256);
            fs::write(dir.join("node.hcl"), config).expect("writing node.hcl");
            self.nodes
                .push(Node::spawn(name, dir, ports[2 * i], ports[2 * i + 1]));
        }
        for i in 0..NODES {
            self.wait_listening(i).await?;
        }

        // Init on node 1, one key share.
        let init = self
            .node_client(0, "")
            .write(
                "sys/init",
                json!({ "secret_shares": 1, "secret_threshold": 1 }),
            )
            .await;
        if init.status != 200 {
            return Err(Attempt::Fatal(format!(
                "sys/init on node1: HTTP {}: {}",
                init.status, init.text
            )));
        }
        let unseal_key = init.body["keys_base64"][0]
            .as_str()
            .ok_or_else(|| Attempt::Fatal(format!("no unseal key in {}", init.text)))?
            .to_owned();
        self.root_token = init.body["root_token"]
            .as_str()
            .ok_or_else(|| Attempt::Fatal(format!("no root token in {}", init.text)))?
            .to_owned();

        self.unseal_key = unseal_key.clone();
        let c: &Cluster = self;
        c.unseal(0, &unseal_key).await?;
        c.phase("node1 to become active", || async move {
            c.health(0).await == Some(200)
        })
        .await?;
        c.check_cluster_port(0)?;

        // Autopilot adds joining nodes as non-voters and promotes them once they have been
        // healthy for server_stabilization_time (default 10 s): shorten it for the test.
        let autopilot = c
            .client(0)
            .write(
                "sys/storage/raft/autopilot/configuration",
                json!({ "server_stabilization_time": STABILIZATION }),
            )
            .await;
        if !autopilot.is_success() {
            return Err(Attempt::Fatal(format!(
                "configuring autopilot: HTTP {}: {}",
                autopilot.status, autopilot.text
            )));
        }

        // Nodes 2 and 3: unseal each once retry_join has reached the leader (it then reports
        // initialized: true), both at the same time.
        let key = unseal_key.as_str();
        c.phase("nodes 2 and 3 to join and be unsealed", || async move {
            let mut unsealed = 0;
            for i in 1..NODES {
                let Some(status) = c.probe(i, "GET", "sys/seal-status").await else {
                    continue;
                };
                if status.body["sealed"] == false {
                    unsealed += 1;
                } else if status.body["initialized"] == true {
                    let _ = c
                        .node_client(i, "")
                        .try_request("POST", "sys/unseal", Some(json!({ "key": key })))
                        .await;
                }
            }
            unsealed == NODES - 1
        })
        .await
        // A join that stalls (seen once on a loaded 2-core CI machine: the leader listed node2
        // as a non-voter while node2 never reported itself initialized) is retried on fresh
        // ports and data, like a lost port race, rather than failing the test.
        .map_err(|e| match e {
            Attempt::Fatal(why) => Attempt::PortTaken(format!("join stalled: {why}")),
            taken => taken,
        })?;
        for i in 1..NODES {
            let what = format!("{} to be an unsealed standby", c.nodes[i].name);
            c.phase(&what, || async move {
                matches!(c.health(i).await, Some(429 | 473))
            })
            .await?;
            c.check_cluster_port(i)?;
        }

        c.phase("three Raft voters", || async move {
            c.raft_voters(0).await == NODES
        })
        .await?;
        let leader_api = c.nodes[0].addr.clone();
        for i in 1..NODES {
            let what = format!("{} to know the leader", c.nodes[i].name);
            let leader_api = leader_api.as_str();
            c.phase(&what, || async move {
                c.probe(i, "GET", "sys/leader")
                    .await
                    .is_some_and(|r| r.body["leader_address"] == leader_api)
            })
            .await?;
        }
        Ok(())
    }

    /// Mounts the declaratively registered plugin at `ai-keys/` through the leader (node 1)
    /// and waits until the mount answers through every node.
    async fn mount(&self) {
        let leader = self.client(0);
        let catalog = leader
            .read(&format!(
                "sys/plugins/catalog/secret/{PLUGIN_NAME}?version={}",
                plugin_version()
            ))
            .await;
        assert_eq!(
            catalog.status,
            200,
            "the declarative plugin stanza did not register ai-keys: {}\n{}",
            catalog.text,
            self.log_tails(40)
        );
        let body = json!({ "type": PLUGIN_NAME, "config": { "plugin_version": plugin_version() } });
        let reply = leader
            .write(&format!("sys/mounts/{MOUNT_PATH}"), body)
            .await;
        assert!(
            reply.is_success(),
            "mounting ai-keys through the leader: HTTP {}: {}\n{}",
            reply.status,
            reply.errors(),
            self.log_tails(60)
        );
        for i in 0..NODES {
            let what = format!("the mount to answer through {}", self.nodes[i].name);
            self.wait_for(&what, PHASE_TIMEOUT, || async move {
                self.probe(i, "GET", &format!("{MOUNT_PATH}/config"))
                    .await
                    .is_some_and(|r| r.status == 200)
            })
            .await;
        }
    }

    /// A client for node `i` with the root token.
    pub fn client(&self, i: usize) -> Client {
        self.node_client(i, &self.root_token)
    }

    fn node_client(&self, i: usize, token: &str) -> Client {
        Client::with_http(self.http.clone(), &self.nodes[i].addr, token)
    }

    /// Indices of the nodes whose server process still runs.
    pub fn live(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].child.is_some())
            .collect()
    }

    /// The live nodes other than `leader`, in index order.
    pub fn standbys(&self, leader: usize) -> Vec<usize> {
        self.live().into_iter().filter(|&i| i != leader).collect()
    }

    /// The HTTP status of `sys/health` on node `i` (200 active, 429/473 standby, 503 sealed);
    /// `None` when the node does not answer within 2 s.
    pub async fn health(&self, i: usize) -> Option<u16> {
        self.probe(i, "GET", "sys/health").await.map(|r| r.status)
    }

    /// The live node whose `sys/health` is 200, if exactly one answers so.
    pub async fn active(&self) -> Option<usize> {
        let mut active = Vec::new();
        for i in self.live() {
            if self.health(i).await == Some(200) {
                active.push(i);
            }
        }
        (active.len() == 1).then(|| active[0])
    }

    /// Voters in the Raft configuration, as node `i` reports it.
    pub async fn raft_voters(&self, i: usize) -> usize {
        let Some(reply) = self.probe(i, "GET", "sys/storage/raft/configuration").await else {
            return 0;
        };
        reply.data()["config"]["servers"]
            .as_array()
            .map_or(0, |servers| {
                servers.iter().filter(|s| s["voter"] == true).count()
            })
    }

    /// A request to node `i` with the root token that gives up after 2 s; `None` when the
    /// node cannot be reached or does not answer in time.
    pub async fn probe(&self, i: usize, method: &str, path: &str) -> Option<Reply> {
        let client = self.node_client(i, &self.root_token);
        tokio::time::timeout(PROBE_TIMEOUT, client.try_request(method, path, None))
            .await
            .ok()?
            .ok()
    }

    /// SIGKILLs node `i`'s server by PID and reaps it. Its plugin processes are left running
    /// (remembered, and killed on drop if still alive). Returns their PIDs.
    pub fn kill(&mut self, i: usize) -> Vec<u32> {
        let plugins = self.plugin_pids(i);
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        plugins
    }

    /// Sends `SIG{signal}` (`"TERM"` or `"KILL"`) to every running server at once and reaps
    /// them (a SIGTERMed one gets up to 5 s before SIGKILL). Their Raft data stays; plugin
    /// processes are remembered and killed on drop if they outlive their server.
    pub fn stop_every_node(&mut self, signal: &str) {
        for i in 0..self.nodes.len() {
            let _ = self.plugin_pids(i);
        }
        let mut children: Vec<Child> = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.child.take())
            .collect();
        for child in &mut children {
            if matches!(child.try_wait(), Ok(None)) {
                process::signal(child.id(), signal);
            }
        }
        for child in &mut children {
            process::stop_child(child, STOP_GRACE);
        }
    }

    /// Starts every stopped node again on its own ports, configuration and Raft data (the log
    /// is appended to), unseals each with [`Cluster::unseal_key`], and waits until one node is
    /// active and the mount answers through every node. Returns how long it took.
    pub async fn restart_stopped(&mut self) -> Duration {
        let started = Instant::now();
        let stopped: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].child.is_none())
            .collect();
        for &i in &stopped {
            let n = &self.nodes[i];
            let node =
                Node::spawn_appending(n.name.clone(), n.dir.clone(), n.api_port, n.cluster_port);
            self.nodes[i] = node;
        }
        let key = self.unseal_key.clone();
        for &i in &stopped {
            if let Err(Attempt::Fatal(why) | Attempt::PortTaken(why)) = self.wait_listening(i).await
            {
                panic!(
                    "restarting {}: {why}\n{}",
                    self.nodes[i].name,
                    self.log_tails(40)
                );
            }
        }
        for &i in &stopped {
            let _ = self
                .node_client(i, "")
                .try_request("POST", "sys/unseal", Some(json!({ "key": key })))
                .await;
        }
        let c: &Cluster = self;
        c.wait_for("a leader after the restart", PHASE_TIMEOUT, || async move {
            c.active().await.is_some()
        })
        .await;
        for i in 0..NODES {
            let what = format!(
                "the mount to answer through {} after the restart",
                c.nodes[i].name
            );
            c.wait_for(&what, PHASE_TIMEOUT, || async move {
                c.probe(i, "GET", &format!("{MOUNT_PATH}/config"))
                    .await
                    .is_some_and(|r| r.status == 200)
            })
            .await;
        }
        started.elapsed()
    }

    /// Live plugin processes whose parent is node `i`'s server (remembered for drop).
    pub fn plugin_pids(&self, i: usize) -> Vec<u32> {
        let node = &self.nodes[i];
        if node.child.is_none() {
            return Vec::new();
        }
        let pids = process::live_children_running(node.pid, &node.plugin_path);
        lock(&node.seen_plugin_pids).extend(pids.iter().copied());
        pids
    }

    pub fn server_pid(&self, i: usize) -> u32 {
        self.nodes[i].pid
    }

    /// Canonical path of node `i`'s plugin copy.
    pub fn plugin_path(&self, i: usize) -> &Path {
        &self.nodes[i].plugin_path
    }

    pub fn server_log(&self, i: usize) -> String {
        read(&self.nodes[i].dir.join("server.log"))
    }

    /// The last `lines` lines of every node's log, each under a header.
    pub fn log_tails(&self, lines: usize) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let log = read(&n.dir.join("server.log"));
                let all: Vec<&str> = log.lines().collect();
                format!(
                    "--- {} ({}) server.log (tail) ---\n{}",
                    n.name,
                    n.addr,
                    all[all.len().saturating_sub(lines)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Polls `f` until it returns true; panics naming `what`, with every node's log tail, after
    /// `timeout`. Returns how long it took.
    pub async fn wait_for<F, Fut>(&self, what: &str, timeout: Duration, f: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        super::server::poll_until_or(what, timeout, POLL_INTERVAL, f, || self.log_tails(40)).await
    }

    /// Like [`Cluster::wait_for`] during start-up: also fails when a server exits, telling a
    /// lost port race apart from anything else.
    async fn phase<F, Fut>(&self, what: &str, mut f: F) -> Result<(), Attempt>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + PHASE_TIMEOUT;
        loop {
            self.check_exited()?;
            if f().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Attempt::Fatal(format!(
                    "timed out after {PHASE_TIMEOUT:?} waiting for {what}"
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until node `i`'s own process listens on its API port and answers.
    async fn wait_listening(&self, i: usize) -> Result<(), Attempt> {
        let c = self;
        let what = format!("{} to listen", c.nodes[i].name);
        c.phase(&what, || async move {
            let node = &c.nodes[i];
            // Only our own process counts: another one may have won the race for this port.
            process::listens_on(node.pid, node.api_port)
                && c.probe(i, "GET", "sys/seal-status").await.is_some()
        })
        .await
    }

    /// After unseal the node binds its cluster port; a parallel process may have taken it.
    fn check_cluster_port(&self, i: usize) -> Result<(), Attempt> {
        let node = &self.nodes[i];
        if process::listens_on(node.pid, node.cluster_port) {
            return Ok(());
        }
        let log = read(&node.dir.join("server.log"));
        if log.contains("address already in use") {
            Err(Attempt::PortTaken(format!(
                "{}: cluster port {} taken",
                node.name, node.cluster_port
            )))
        } else {
            Err(Attempt::Fatal(format!(
                "{} does not listen on its cluster port {}",
                node.name, node.cluster_port
            )))
        }
    }

    async fn unseal(&self, i: usize, key: &str) -> Result<(), Attempt> {
        let reply = self
            .node_client(i, "")
            .write("sys/unseal", json!({ "key": key }))
            .await;
        if reply.status != 200 {
            return Err(Attempt::Fatal(format!(
                "sys/unseal on {}: HTTP {}: {}",
                self.nodes[i].name, reply.status, reply.text
            )));
        }
        let c = self;
        let what = format!("{} to be unsealed", c.nodes[i].name);
        c.phase(&what, || async move {
            c.probe(i, "GET", "sys/seal-status")
                .await
                .is_some_and(|r| r.body["sealed"] == false)
        })
        .await
    }

    /// Fails the attempt if a server exited during start-up (it stays unreaped, a zombie,
    /// until [`Cluster::stop_all`]).
    fn check_exited(&self) -> Result<(), Attempt> {
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            if process::is_alive(node.pid) {
                continue;
            }
            let log = read(&node.dir.join("server.log"));
            return Err(if log.contains("address already in use") {
                Attempt::PortTaken(format!("{} exited: port taken", node.name))
            } else {
                Attempt::Fatal(format!("{} exited during start-up", node.name))
            });
        }
        Ok(())
    }

    /// Stops every server by PID: SIGTERM to all, up to 5 s in total, then SIGKILL; reaps
    /// them; then kills their plugin processes that are still alive.
    fn stop_all(&mut self) {
        for i in 0..self.nodes.len() {
            let _ = self.plugin_pids(i);
        }
        let mut children: Vec<Child> = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.child.take())
            .collect();
        for child in &mut children {
            if matches!(child.try_wait(), Ok(None)) {
                // Not reaped yet, so the PID cannot have been reused.
                process::signal(child.id(), "TERM");
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        for child in &mut children {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for node in &self.nodes {
            for &pid in lock(&node.seen_plugin_pids).iter() {
                // Re-check the executable right before the signal: the PID may have been reused.
                if process::is_alive(pid)
                    && process::exe(pid).as_deref() == Some(&*node.plugin_path)
                {
                    process::signal(pid, "KILL");
                }
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The logs as the failure left them, before shutdown lines pile up.
        let failure_logs = std::thread::panicking().then(|| self.log_tails(60));
        self.stop_all();
        if let Some(logs) = failure_logs {
            eprintln!("{logs}");
        }
        if std::env::var_os(KEEP_ENV).is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("kept {} ({KEEP_ENV} is set)", self.dir.path().display());
        }
    }
}

impl Node {
    fn spawn(name: String, dir: PathBuf, api_port: u16, cluster_port: u16) -> Node {
        let log = fs::File::create(dir.join("server.log")).expect("creating server.log");
        Node::spawn_logging_to(log, name, dir, api_port, cluster_port)
    }

    /// [`Node::spawn`] appending to the node's existing log (a restart).
    fn spawn_appending(name: String, dir: PathBuf, api_port: u16, cluster_port: u16) -> Node {
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

/// `n` distinct loopback ports that were free a moment ago (all probed at once, so distinct).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

fn node_config(
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
        r#"# Written by tests/support/cluster.rs for one node of a three-node test cluster.
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

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
