//! Starting one dev server: its `dev.hcl`, a free loopback port, the child process (stopped and
//! reaped on drop) and the wait until it is healthy.

use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{bao_bin, lock, process, read, AUDIT_DEVICE, POLL_INTERVAL, ROOT_TOKEN, STOP_GRACE};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The server child process; stopped (and reaped) on drop.
pub(super) struct ServerProcess(Option<Child>);

impl ServerProcess {
    pub(super) fn spawn(root: &Path, port: u16) -> ServerProcess {
        let log = fs::File::create(root.join("server.log")).expect("creating server.log");
        let log_err = log.try_clone().expect("cloning the server.log handle");
        let child = Command::new(bao_bin())
            .arg("server")
            .arg("-dev")
            .arg(format!("-dev-root-token-id={ROOT_TOKEN}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .arg("-dev-no-store-token")
            .arg(format!("-config={}", root.join("dev.hcl").display()))
            // Plugins inherit the server's environment: keep their loopback calls off any proxy.
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bao_bin().display()));
        ServerProcess(Some(child))
    }

    pub(super) fn pid(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// `Some(description)` once the process has exited.
    fn exited(&mut self) -> Option<String> {
        match self.0.as_mut()?.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    pub(super) fn stop(&mut self, grace: Duration) {
        if let Some(mut child) = self.0.take() {
            process::stop_child(&mut child, grace);
        }
    }

    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop(STOP_GRACE);
    }
}

pub(super) enum Failure {
    PortTaken(String),
    Fatal(String),
}

/// Waits until `server` itself listens on `port` and `sys/health` answers 200.
pub(super) async fn wait_healthy(
    http: &reqwest::Client,
    server: &mut ServerProcess,
    port: u16,
    log_path: &Path,
) -> Result<(), Failure> {
    let url = format!("http://127.0.0.1:{port}/v1/sys/health");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = server.exited() {
            let log = read(log_path);
            return Err(if log.contains("address already in use") {
                Failure::PortTaken(log)
            } else {
                Failure::Fatal(format!("the server exited ({status})"))
            });
        }
        // Only our own process counts: another server may have won the race for this port.
        if process::listens_on(server.pid(), port) {
            if let Ok(response) = http.get(&url).timeout(Duration::from_secs(5)).send().await {
                if response.status().as_u16() == 200 {
                    return Ok(());
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(Failure::Fatal(format!(
                "sys/health not 200 within {START_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// A loopback port that was free a moment ago, never the same twice in this test binary.
pub(super) fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("binding 127.0.0.1:0")
            .port();
        if lock(&HANDED_OUT).insert(port) {
            return port;
        }
    }
    panic!("no fresh loopback port after 100 tries");
}

pub(super) fn dev_config(root: &Path) -> String {
    let root = root.display();
    format!(
        r#"# Written by tests/support/server/launch.rs for one test server.
plugin_directory   = "{root}/plugins"
disable_clustering = true
log_level          = "debug"
# sys/raw: tests read and plant the mount's stored records (previous-release and broken ones).
raw_storage_endpoint = true

audit "file" "{AUDIT_DEVICE}" {{
  options {{
    file_path = "{root}/audit.log"
  }}
}}
"#
    )
}
