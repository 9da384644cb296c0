//! Applications that read `creds/:name` through `bao agent` templates, against a real OpenBao
//! 2.7.2 server and agent: the rendered file follows a rotation to the new key (with the previous
//! one beside it during its grace window), follows an emergency rotation to the new key alone,
//! and never holds anything else in between: no empty file, no half-written or foreign content.
//!
//! The agent authenticates with `token_file` (a token with a read-only policy on `creds/app`
//! plus `default`, which `token_file` needs for `auth/token/lookup-self`) and re-renders this
//! non-lease secret every `static_secret_render_interval` (1 s here). It is a child process
//! stopped by PID when its guard drops, also when the test panics. No listener: it only talks
//! to the loopback server.
//!
//! Contract: docs/api.md (`creds/`, `rotate/`); agent setup: docs/openbao.md ("Agent templates").

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{bao_bin, process, Bao, Client};

/// How often the agent re-reads `creds/app` (the template's only secret has no lease).
const RENDER_INTERVAL: &str = "1s";
/// Bound of every wait for the agent to (re-)render the file.
const RENDER_TIMEOUT: Duration = Duration::from_secs(20);
/// After each change, the file is watched until the agent has read `creds/app` this many more
/// times, to see that it stays put.
const REREADS: usize = 2;
/// Short, so that a transient content of the file (an empty file, a partial write) is seen.
const WATCH_INTERVAL: Duration = Duration::from_millis(5);
/// SIGTERM, then SIGKILL after this long.
const AGENT_STOP_GRACE: Duration = Duration::from_secs(5);
/// What the watcher records when the rendered file does not exist.
const MISSING: &str = "<no file>";

/// The template: the current key, and the previous one on a second line while it is in grace.
pub(crate) const TEMPLATE: &str = r#"{{ with secret "ai-keys/creds/app" }}{{ .Data.api_key }}{{ if .Data.previous_api_key }}
{{ .Data.previous_api_key }}{{ end }}{{ end }}"#;

/// A distinctive key value: a random suffix, so finding it in a log is never a coincidence.
fn secret(tag: &str) -> String {
    format!("sk-agent-{tag}-{}", uuid::Uuid::new_v4().simple())
}

/// `bao agent` as a child process; stopped by its PID (SIGTERM, then SIGKILL) and reaped on
/// drop, which also runs while a failed test unwinds.
pub(crate) struct Agent {
    child: Option<Child>,
    log: PathBuf,
}

impl Agent {
    pub(crate) fn spawn(config: &Path, log: &Path) -> Agent {
        let out = fs::File::create(log).expect("creating agent.log");
        let err = out.try_clone().expect("cloning the agent.log handle");
        let mut command = Command::new(bao_bin());
        command
            .arg("agent")
            .arg(format!("-config={}", config.display()))
            .current_dir(config.parent().expect("config in a directory"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        // Only the config decides where the agent goes and who it is.
        for var in [
            "BAO_ADDR",
            "VAULT_ADDR",
            "BAO_TOKEN",
            "VAULT_TOKEN",
            "BAO_AGENT_ADDR",
            "VAULT_AGENT_ADDR",
        ] {
            command.env_remove(var);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} agent: {e}", bao_bin().display()));
        Agent {
            child: Some(child),
            log: log.to_owned(),
        }
    }

    pub(crate) fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics (with the log) if the agent has exited.
    #[track_caller]
    pub(crate) fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("agent not stopped yet");
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "bao agent exited ({status})\n--- agent.log ---\n{}",
                self.log()
            );
        }
    }

    /// Stops the agent (so its log is complete) and returns the log.
    pub(crate) fn stop(&mut self) -> String {
        if let Some(mut child) = self.child.take() {
            process::stop_child(&mut child, AGENT_STOP_GRACE);
        }
        self.log()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let running = self.child.is_some();
        self.stop();
        if running && std::thread::panicking() {
            eprintln!("--- agent.log ---\n{}", self.log());
        }
    }
}

/// The rendered file's content, or [`MISSING`].
pub(crate) fn read_rendered(path: &Path) -> String {
    match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => MISSING.to_owned(),
        Err(e) => panic!("reading {}: {e}", path.display()),
    }
}

/// Responses to `ai-keys/creds/app` in the server's audit log: one per read the agent made.
fn creds_reads(bao: &Bao) -> usize {
    bao.audit_log()
        .lines()
        .filter(|line| {
            line.contains(r#""type":"response""#) && line.contains(r#""path":"ai-keys/creds/app""#)
        })
        .count()
}

/// Watches the rendered file every few milliseconds until it reads exactly `target`, then
/// until the agent has read `creds/app` [`REREADS`] more times (counted in the audit log),
/// during which the file must keep reading `target`. Returns how long `target` took to appear
/// and every distinct content seen before (`target` included). Panics with the agent log after
/// [`RENDER_TIMEOUT`] in either phase.
async fn watch_until(
    bao: &Bao,
    agent: &mut Agent,
    path: &Path,
    target: &str,
    what: &str,
) -> (Duration, BTreeSet<String>) {
    let start = Instant::now();
    let mut seen = BTreeSet::new();
    let took = loop {
        let content = read_rendered(path);
        seen.insert(content.clone());
        if content == target {
            break start.elapsed();
        }
        if start.elapsed() >= RENDER_TIMEOUT {
            agent.assert_running();
            panic!(
                "{what}: the rendered file did not become {target:?} within {RENDER_TIMEOUT:?}; \
                 contents seen: {seen:?}\n--- agent.log ---\n{}",
                agent.log()
            );
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    };
    // The agent keeps re-reading the secret; the file must not move.
    let reads = creds_reads(bao);
    let deadline = Instant::now() + RENDER_TIMEOUT;
    while creds_reads(bao) < reads + REREADS {
        assert_eq!(
            read_rendered(path),
            target,
            "{what}: the rendered file changed again after reaching its target \
             (seen before: {seen:?})\n--- agent.log ---\n{}",
            agent.log()
        );
        if Instant::now() >= deadline {
            agent.assert_running();
            panic!(
                "{what}: the agent did not read creds/app {REREADS} more times within \
                 {RENDER_TIMEOUT:?}\n--- agent.log ---\n{}",
                agent.log()
            );
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
    assert_eq!(read_rendered(path), target, "{what}: after the re-reads");
    agent.assert_running();
    (took, seen)
}

#[track_caller]
fn expect_ok(reply: &crate::support::Reply, what: &str) -> Value {
    assert!(
        reply.is_success(),
        "{what}: HTTP {}: {}",
        reply.status,
        reply.text
    );
    reply.data().clone()
}

/// Creates the policy `agent-app` (read on `ai-keys/creds/app` only) and a token with it and
/// `default`; returns the token.
pub(crate) async fn agent_token(root: &Client) -> String {
    let policy = r#"path "ai-keys/creds/app" { capabilities = ["read"] }"#;
    expect_ok(
        &root
            .write("sys/policies/acl/agent-app", json!({ "policy": policy }))
            .await,
        "writing the agent-app policy",
    );
    let reply = root
        .write(
            "auth/token/create",
            json!({ "policies": ["agent-app", "default"], "ttl": "1h", "display_name": "agent" }),
        )
        .await;
    expect_ok(&reply, "creating the agent's token");
    let auth = &reply.body["auth"];
    let policies: BTreeSet<&str> = auth["policies"]
        .as_array()
        .expect("auth.policies")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        policies,
        BTreeSet::from(["agent-app", "default"]),
        "{auth:#}"
    );
    auth["client_token"]
        .as_str()
        .expect("auth.client_token")
        .to_owned()
}

/// Writes `contents` to a new file readable by its owner only.
pub(crate) fn write_private(path: &Path, contents: &str) {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    file.write_all(contents.as_bytes())
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// The agent's config: OpenBao 2.7.2 accepts the `vault` stanza and the labelled
/// `method "token_file"` / `sink "file"` blocks.
pub(crate) fn agent_config(addr: &str, dir: &Path) -> String {
    let dir = dir.display();
    format!(
        r#"# Written by tests/e2e/creds_clients/agent.rs.
vault {{
  address = "{addr}"
}}

auto_auth {{
  method "token_file" {{
    config = {{
      token_file_path = "{dir}/token"
    }}
  }}
  sink "file" {{
    config = {{
      path = "{dir}/sink-token"
    }}
  }}
}}

template_config {{
  static_secret_render_interval = "{RENDER_INTERVAL}"
}}

template {{
  source      = "{dir}/creds.ctmpl"
  destination = "{dir}/creds.txt"
  perms       = "0600"
}}

exit_after_auth = false
"#
    )
}

/// `bao agent` renders `creds/app` into a file; a rotation with a grace window shows the new
/// key with the previous one beside it, an emergency rotation the new key alone, and at no
/// moment is the file empty or anything but one of those.
#[tokio::test]
async fn agent_template_follows_rotations_and_never_renders_a_broken_key() {
    let bao = Bao::start().await;
    let root = bao.client();
    let (k1, k2, k3) = (secret("k1"), secret("k2"), secret("k3"));

    // 1. A token that can read creds/app (and look itself up), in a file.
    let dir = bao.dir.path().join("agent");
    fs::create_dir(&dir).expect("creating agent/");
    let dir = dir.canonicalize().expect("canonical agent dir");
    let token = agent_token(&root).await;
    write_private(&dir.join("token"), &token);

    // 2. The key.
    expect_ok(
        &root.write("ai-keys/keys/app", json!({ "value": k1 })).await,
        "creating keys/app",
    );

    // 3. The agent renders K1.
    let config = dir.join("agent.hcl");
    fs::write(dir.join("creds.ctmpl"), TEMPLATE).expect("writing creds.ctmpl");
    fs::write(&config, agent_config(&bao.addr, &dir)).expect("writing agent.hcl");
    let rendered = dir.join("creds.txt");
    let mut agent = Agent::spawn(&config, &dir.join("agent.log"));
    let (first_render, seen) = watch_until(&bao, &mut agent, &rendered, &k1, "first render").await;
    let allowed = BTreeSet::from([MISSING.to_owned(), k1.clone()]);
    assert!(
        seen.is_subset(&allowed),
        "before the first render the file is absent, then it holds K1 only; seen: {seen:?}"
    );

    // 4. Rotation with a 1 h grace window: K2, with K1 on the second line.
    let rotated = expect_ok(
        &root
            .write(
                "ai-keys/rotate/app",
                json!({ "value": k2, "grace_period": "1h" }),
            )
            .await,
        "rotate/app to K2",
    );
    assert_eq!(rotated["version"], 2, "{rotated:#}");
    let in_grace = format!("{k2}\n{k1}");
    let (rotation_render, seen) =
        watch_until(&bao, &mut agent, &rendered, &in_grace, "rotation").await;
    let allowed = BTreeSet::from([k1.clone(), in_grace.clone()]);
    assert!(
        seen.is_subset(&allowed),
        "during the rotation the file held only K1 or K2+K1; seen: {seen:?}"
    );

    // 5. Emergency rotation: K3 alone.
    let emergency = expect_ok(
        &root
            .write(
                "ai-keys/rotate/app",
                json!({ "value": k3, "grace_period": 0 }),
            )
            .await,
        "emergency rotate/app to K3",
    );
    assert_eq!(emergency["version"], 3, "{emergency:#}");
    let (emergency_render, seen) =
        watch_until(&bao, &mut agent, &rendered, &k3, "emergency rotation").await;
    let allowed = BTreeSet::from([in_grace.clone(), k3.clone()]);
    assert!(
        seen.is_subset(&allowed),
        "during the emergency rotation the file held only K2+K1 or K3; seen: {seen:?}"
    );

    // 6. The agent's own log never shows a key.
    let log = agent.stop();
    // One render per distinct content: nothing was written in between that the watcher missed.
    let renders = log.matches("(runner) rendered").count();
    assert_eq!(renders, 3, "K1, K2+K1, K3 and no other render:\n{log}");
    for (name, key) in [("K1", &k1), ("K2", &k2), ("K3", &k3)] {
        assert!(
            !log.contains(key.as_str()),
            "{name} appears in the agent log:\n{log}"
        );
    }

    eprintln!(
        "agent timings: first render {first_render:?}, rotation {rotation_render:?}, \
         emergency {emergency_render:?} (render interval {RENDER_INTERVAL})"
    );
}
