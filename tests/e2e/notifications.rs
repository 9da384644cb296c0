//! `notifications/`: webhooks that receive signed CloudEvents, tested as a user would: a real
//! OpenBao, and a receiver written as a user would write one (tests/support/webhook_receiver.py:
//! the `standardwebhooks` package verifies every delivery, the CloudEvents SDK parses it; both
//! installed into .tools/venv by scripts/lib/tools.sh, `ensure_webhook_receiver`). Deliveries
//! are driven by the tick hook; test builds retry after a second instead of 30 s.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::support::checks::{repo_root, write_ok};
use crate::support::Client;

mod delivery;
mod failover;
mod failures;
mod incidents;
mod notice_markers;

/// A signing secret as a user makes one (`whsec_` and base64 of 32 random bytes).
pub(crate) fn signing_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A receiver with a fresh signing secret, and webhook `ops` pointed at it for every event;
/// returns the receiver and the secret.
pub(crate) async fn subscribed(root: &Client) -> (Receiver, String) {
    let whsec = signing_secret();
    let receiver = Receiver::start(&whsec);
    write_ok(
        root,
        "ai-keys/notifications/ops",
        json!({ "url": receiver.url, "secret": whsec }),
    )
    .await;
    (receiver, whsec)
}

/// The receiver script, running: what it accepted is in `out` (one JSON line per event), what
/// it refused in `out.rejected`; while `down` exists it answers 503.
pub(crate) struct Receiver {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
}

impl Receiver {
    pub(crate) fn start(secret: &str) -> Receiver {
        let dir = tempfile::tempdir().expect("temp dir");
        let python = repo_root().join(".tools/venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/test.sh (ensure_webhook_receiver)",
            python.display()
        );
        let mut child = Command::new(python)
            .arg(repo_root().join("tests/support/webhook_receiver.py"))
            .arg(dir.path().join("out"))
            .arg(dir.path().join("down"))
            .env("WEBHOOK_SECRET", secret)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the webhook receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the receiver prints its port");
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            panic!("the receiver printed {line:?}, not a port (are standardwebhooks and cloudevents in .tools/venv?)")
        });
        Receiver {
            child,
            url: format!("http://127.0.0.1:{port}/hook"),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Makes the receiver answer 503 (`true`) or accept again.
    pub(crate) fn set_down(&self, down: bool) {
        if down {
            std::fs::write(self.path("down"), b"").expect("down flag");
        } else {
            let _ = std::fs::remove_file(self.path("down"));
        }
    }

    /// Every event it accepted (verified and parsed), in order.
    pub(crate) fn events(&self) -> Vec<Value> {
        lines(&self.path("out"))
    }

    /// Deliveries that failed verification or parsing.
    pub(crate) fn rejected(&self) -> Vec<Value> {
        lines(&self.path("out.rejected"))
    }
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Our own child, by its handle (its PID).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
