//! One real OpenBao dev server per test, with the plugin copied, registered and mounted.
//!
//! Each [`Bao`] owns a temporary directory (`dev.hcl`, `plugins/`, `server.log`, `audit.log`)
//! and a server on a free loopback port; dropping it stops the server by PID (SIGTERM, then
//! SIGKILL after 5 s) and kills any plugin process it saw that outlived the server.
//!
//! Why a declarative audit device: OpenBao 2.7.2 refuses `sys/audit/...` over the API unless the
//! config sets `unsafe_allow_api_audit_creation`, and declaring the device in `dev.hcl` is what a
//! production config does. It is also active before the first request, so the registration and
//! mount of the plugin are audited too, and no test can forget to enable it.
//!
//! Why `raw_storage_endpoint`: tests plant records through `sys/raw` (a previous release's, a
//! broken one) and check what the plugin stored, byte for byte.
//!
//! Why `disable_clustering`: the dev listener otherwise also binds a cluster port at PORT+1, which
//! a parallel test may have picked as its own API port. A single dev node needs no cluster port.

mod binaries;
mod launch;
mod plugin;
mod poll;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;
use tempfile::TempDir;

use super::client::{http_client, Client};
use super::process;
pub use binaries::{bao_bin, plugin_sha256, plugin_version, sha256_hex};
use launch::{dev_config, free_port, wait_healthy, Failure, ServerProcess};
pub use poll::{poll_until, poll_until_or};

/// Root token of every dev server.
pub const ROOT_TOKEN: &str = "root";
/// Catalog name and mount type of the plugin.
pub const PLUGIN_NAME: &str = "ai-keys";
/// Where [`Bao::start`] mounts the plugin.
pub const MOUNT_PATH: &str = "ai-keys";
/// Name (and path) of the declarative file audit device, for `sys/audit-hash/main`.
pub const AUDIT_DEVICE: &str = "main";
/// File name of the plugin binary inside the plugin directory (the catalog `command`).
pub const PLUGIN_COMMAND: &str = "vault-plugin-secrets-ai-keys";
/// The plugin binary cargo built for this test run.
const PLUGIN_BUILD: &str = env!("CARGO_BIN_EXE_vault-plugin-secrets-ai-keys");

const STOP_GRACE: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
const START_ATTEMPTS: usize = 5;
/// Set to keep each test's directory (logs, config) after the test.
const KEEP_ENV: &str = "AI_KEYS_E2E_KEEP";

/// A running dev server, stopped on drop.
pub struct Bao {
    /// `http://127.0.0.1:PORT`
    pub addr: String,
    /// The root token, `"root"`.
    pub token: String,
    /// This server's directory: `dev.hcl`, `plugins/`, `server.log`, `audit.log`.
    pub dir: TempDir,
    server: ServerProcess,
    pid: u32,
    http: reqwest::Client,
    /// Canonical path of the copied plugin binary (what `/proc/PID/exe` shows).
    plugin_path: PathBuf,
    /// Every plugin PID seen by [`Bao::plugin_pids`], to kill survivors on drop.
    seen_plugin_pids: Mutex<BTreeSet<u32>>,
}

impl Bao {
    /// A server with the plugin registered and mounted at `ai-keys/`.
    pub async fn start() -> Bao {
        let bao = Bao::start_unmounted().await;
        bao.mount_plugin(MOUNT_PATH).await;
        bao
    }

    /// A server with the plugin copied and registered, not mounted.
    pub async fn start_unmounted() -> Bao {
        let bao = Bao::start_bare().await;
        bao.register_plugin().await;
        bao
    }

    /// A server alone: empty plugin directory, nothing registered.
    pub async fn start_bare() -> Bao {
        Bao::start_configured(|_| String::new()).await
    }

    /// A server whose `dev.hcl` ends with what `extra` returns; `extra` gets the (canonical)
    /// plugin directory first, to install binaries a declarative `plugin` block names.
    pub async fn start_configured(extra: impl FnOnce(&Path) -> String) -> Bao {
        let dir = tempfile::Builder::new()
            .prefix("ai-keys-e2e-")
            .tempdir()
            .expect("creating the server's temporary directory");
        let root = dir.path().canonicalize().expect("canonical temp dir");
        fs::create_dir(root.join("plugins")).expect("creating plugins/");
        let config = dev_config(&root) + &extra(&root.join("plugins"));
        fs::write(root.join("dev.hcl"), config).expect("writing dev.hcl");
        let http = http_client();

        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut server = ServerProcess::spawn(&root, port);
            match wait_healthy(&http, &mut server, port, &root.join("server.log")).await {
                Ok(()) => {
                    let pid = server.pid();
                    return Bao {
                        addr: format!("http://127.0.0.1:{port}"),
                        token: ROOT_TOKEN.to_owned(),
                        plugin_path: root.join("plugins").join(PLUGIN_COMMAND),
                        dir,
                        server,
                        pid,
                        http,
                        seen_plugin_pids: Mutex::new(BTreeSet::new()),
                    };
                }
                // Another process took the port between our probe and the server's bind.
                Err(Failure::PortTaken(log)) => last_failure = log,
                Err(Failure::Fatal(why)) => {
                    drop(server);
                    panic!(
                        "OpenBao did not start: {why}\n--- server.log ---\n{}",
                        read(&root.join("server.log"))
                    );
                }
            }
        }
        panic!("OpenBao could not bind a free port in {START_ATTEMPTS} attempts:\n{last_failure}");
    }

    /// A client with the root token.
    pub fn client(&self) -> Client {
        self.client_with_token(&self.token)
    }

    /// A client with `token` (no token header when empty).
    pub fn client_with_token(&self, token: &str) -> Client {
        Client::with_http(self.http.clone(), &self.addr, token)
    }

    /// The hash the audit device logs for `input` (`hmac-sha256:<hex>`).
    pub async fn audit_hash(&self, input: &str) -> String {
        let reply = self
            .client()
            .write(
                &format!("sys/audit-hash/{AUDIT_DEVICE}"),
                json!({ "input": input }),
            )
            .await;
        reply.expect_status(200);
        reply.data()["hash"]
            .as_str()
            .expect("hash in audit-hash reply")
            .to_owned()
    }

    pub fn server_log(&self) -> String {
        read(&self.dir.path().join("server.log"))
    }

    /// The last `lines` lines of the server log.
    pub fn server_log_tail(&self, lines: usize) -> String {
        tail(&self.server_log(), lines)
    }

    pub fn audit_log(&self) -> String {
        read(&self.dir.path().join("audit.log"))
    }

    pub fn server_pid(&self) -> u32 {
        self.pid
    }

    /// Canonical path of the copied plugin binary.
    pub fn plugin_path(&self) -> &Path {
        &self.plugin_path
    }

    /// Live (non-zombie) processes whose parent is the server and whose executable is the
    /// copied plugin binary.
    pub fn plugin_pids(&self) -> Vec<u32> {
        let pids = process::live_children_running(self.pid, &self.plugin_path);
        lock(&self.seen_plugin_pids).extend(pids.iter().copied());
        pids
    }

    /// SIGKILLs every plugin process of this server and waits until they are gone; returns
    /// their pids. The host starts the plugin again at the next request (after its exit race:
    /// see `plugin_host::lifetime`).
    pub async fn kill_plugins(&self) -> Vec<u32> {
        let pids = self.plugin_pids();
        assert!(!pids.is_empty(), "no plugin process");
        for &pid in &pids {
            assert!(process::signal(pid, "KILL"), "kill -KILL {pid}");
        }
        let dead = &pids;
        poll_until_or(
            "the plugin processes to die",
            Duration::from_secs(30),
            POLL_INTERVAL,
            || async move { dead.iter().all(|&p| !process::is_alive(p)) },
            || self.server_log_tail(40),
        )
        .await;
        pids
    }

    /// Runs the `bao` CLI against this server (`BAO_ADDR`, `BAO_TOKEN` set), synchronously.
    pub fn bao(&self, args: &[&str]) -> Output {
        Command::new(bao_bin())
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.token)
            .env("VAULT_ADDR", &self.addr)
            .env("VAULT_TOKEN", &self.token)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", bao_bin().display()))
    }

    /// Polls `f` until it returns true; panics naming `what` (with the server log's tail)
    /// after `timeout`.
    pub async fn wait_for(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !f() {
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n--- server.log (tail) ---\n{}",
                    self.server_log_tail(40)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// SIGKILLs the server by PID and reaps it; its plugin processes are left running (they
    /// are remembered, and killed on drop if still alive).
    pub fn kill_server(&mut self) {
        let _ = self.plugin_pids();
        self.server.kill();
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.plugin_pids();
        // The log as the failure left it, before shutdown lines pile up.
        let failure_log = std::thread::panicking().then(|| self.server_log_tail(80));
        self.server.stop(STOP_GRACE);
        for &pid in lock(&self.seen_plugin_pids).iter() {
            // Re-check the executable right before the signal: the PID may have been reused.
            if process::is_alive(pid) && process::exe(pid).as_deref() == Some(&*self.plugin_path) {
                process::signal(pid, "KILL");
            }
        }
        if let Some(log) = failure_log {
            eprintln!("--- {} server.log (tail) ---\n{log}", self.addr);
        }
        if std::env::var_os(KEEP_ENV).is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("kept {} ({KEEP_ENV} is set)", self.dir.path().display());
        }
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
