//! An application rides out a Vault outage with the file `bao agent` rendered. A real agent
//! (the one [`agent`](super::agent) runs, same template and token) renders `creds/app`; the
//! server is killed; the agent keeps trying and failing, the file stays as it was, and the
//! application's request (examples/hvac_client.py's `list_models`, with the key read from the
//! file) keeps working at the fake provider. An agent restarted during the outage leaves the
//! file alone too.

use std::fs;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tokio::process::Command;

use super::agent::{agent_config, agent_token, read_rendered, write_private, Agent, TEMPLATE};
use crate::providers::create_key;
use crate::support::checks::{repo_root, secret};
use crate::support::fake_provider::FakeProvider;
use crate::support::poll_until;
use crate::support::Bao;

/// Bound of every wait for the agent (render, or a failed attempt in its log).
const AGENT_DEADLINE: Duration = Duration::from_secs(30);
const READER_TIMEOUT: Duration = Duration::from_secs(30);

/// The application's call: the first line of `file` (the current key) sent by
/// examples/hvac_client.py's `list_models` to the fake; returns the HTTP status it printed.
async fn app_call(file: &Path, fake: &FakeProvider) -> String {
    let python = repo_root().join(".tools/venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/test.sh (ensure_hvac)",
        python.display()
    );
    let script = r#"
import sys
sys.path.insert(0, "examples")
import hvac_client
key = open(sys.argv[1]).read().splitlines()[0]
print(hvac_client.list_models(sys.argv[2])(key))
"#;
    let out = tokio::time::timeout(
        READER_TIMEOUT,
        Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(file)
            .arg(fake.base_url())
            .current_dir(repo_root())
            .env("NO_PROXY", "127.0.0.1,localhost")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the reader ran too long")
    .expect("starting python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Waits until `agent`'s log shows an attempt that failed because the server is gone.
async fn wait_for_failed_attempt(agent: &Agent, what: &str) {
    let a = &agent;
    poll_until(what, AGENT_DEADLINE, || async move {
        a.log().contains("connection refused")
    })
    .await;
}

#[tokio::test]
async fn a_rendered_file_outlives_the_server_and_an_agent_restart() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let mut bao = bao;
    let root_client = bao.client();
    let k1 = secret("k1");
    fake.add_key(&k1);
    create_key(&root_client, "app", json!({ "value": k1 })).await;

    // The agent's files live outside the server's directory, as on a real host.
    let tmp = tempfile::Builder::new()
        .prefix("ai-keys-agent-")
        .tempdir()
        .expect("temp dir");
    let dir = tmp.path().canonicalize().expect("canonical dir");
    let token = agent_token(&root_client).await;
    write_private(&dir.join("token"), &token);
    fs::write(dir.join("creds.ctmpl"), TEMPLATE).expect("creds.ctmpl");
    let config = dir.join("agent.hcl");
    fs::write(&config, agent_config(&bao.addr, &dir)).expect("agent.hcl");
    let rendered = dir.join("creds.txt");

    let mut agent = Agent::spawn(&config, &dir.join("agent.log"));
    let (r, k) = (&rendered, &k1);
    poll_until("the first render", AGENT_DEADLINE, || async move {
        read_rendered(r) == *k
    })
    .await;
    assert_eq!(app_call(&rendered, &fake).await, "200");

    // Vault goes away; the agent keeps re-reading (every second) and failing.
    bao.kill_server();
    wait_for_failed_attempt(&agent, "the agent to fail a read after the server died").await;
    assert_eq!(read_rendered(&rendered), k1, "the rendered file changed");
    agent.assert_running();
    assert_eq!(app_call(&rendered, &fake).await, "200");

    // The agent restarts during the outage: it cannot authenticate or render, and leaves the
    // file as it was.
    agent.stop();
    let mut restarted = Agent::spawn(&config, &dir.join("agent-restarted.log"));
    wait_for_failed_attempt(
        &restarted,
        "the restarted agent to fail against the dead server",
    )
    .await;
    assert_eq!(
        read_rendered(&rendered),
        k1,
        "the restarted agent touched the file"
    );
    restarted.assert_running();
    assert_eq!(app_call(&rendered, &fake).await, "200");
    let log = restarted.stop();
    assert!(!log.contains(k1.as_str()), "the key is in the agent log");
    drop(bao);
    drop(tmp);
}
