//! What tests do with a running cluster: find the live, active and standby nodes, probe a node,
//! kill or stop servers and start them again, read PIDs and logs, and wait for a condition.

use std::future::Future;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::json;

use super::super::client::Reply;
use super::super::process;
use super::super::server::MOUNT_PATH;
use super::{
    lock, read, Attempt, Cluster, Node, NODES, PHASE_TIMEOUT, POLL_INTERVAL, PROBE_TIMEOUT,
    STOP_GRACE,
};

impl Cluster {
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
        super::super::server::poll_until_or(what, timeout, POLL_INTERVAL, f, || self.log_tails(40))
            .await
    }
}
