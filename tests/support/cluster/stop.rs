//! Stopping the cluster: every server by PID, then the plugin processes that outlived them; on
//! drop, with the logs of a failure printed and the directory kept on request.

use std::process::Child;
use std::time::{Duration, Instant};

use super::super::process;
use super::{lock, Cluster, KEEP_ENV, STOP_GRACE};

impl Cluster {
    /// Stops every server by PID: SIGTERM to all, up to 5 s in total, then SIGKILL; reaps
    /// them; then kills their plugin processes that are still alive.
    pub(super) fn stop_all(&mut self) {
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
