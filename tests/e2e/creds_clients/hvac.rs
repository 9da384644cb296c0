//! Applications that read `creds/:name` with hvac (examples/hvac_client.py), against a real
//! OpenBao server and the fake provider: the example uses `api_key`, falls back once to
//! `previous_api_key` when the provider answers 401 during a cut-over, moves to the new key as
//! soon as the provider accepts it, and keeps its last good credentials in memory while Vault is
//! unreachable. It never prints a key value.
//!
//! The interpreter is `.tools/venv/bin/python`, where `scripts/test.sh` installs hvac
//! (`ensure_hvac` in scripts/lib/tools.sh). Each run is a child process with a bounded timeout,
//! killed if it overruns (`kill_on_drop`).

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout, Command};

use crate::providers::{create_key, creds, rotate};
use crate::support::checks::{data, repo_root, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::Bao;

/// Bound of one run of the example (a Python start-up, one Vault read, two provider calls).
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// `.tools/venv/bin/python`, with hvac; a clear failure (never a skip) when it is missing.
fn python() -> PathBuf {
    let python = repo_root().join(".tools/venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/test.sh (or `source scripts/lib/tools.sh; ensure_hvac`), \
         which installs hvac into .tools/venv",
        python.display()
    );
    python
}

fn command(bao: &Bao, args: &[&str]) -> Command {
    let mut cmd = Command::new(python());
    cmd.args(args)
        .current_dir(repo_root())
        .env_remove("VAULT_NAMESPACE")
        .env("VAULT_ADDR", &bao.addr)
        .env("VAULT_TOKEN", &bao.token)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs `examples/hvac_client.py` for key `app` against `fake`; returns its stdout and
/// asserts that neither stdout nor stderr contains any of `secrets`.
async fn run_example(bao: &Bao, fake: &FakeProvider, secrets: &[&str]) -> (Option<i32>, String) {
    let base = fake.base_url();
    let args = [
        "examples/hvac_client.py",
        "--key",
        "app",
        "--provider-url",
        &base,
    ];
    let out = tokio::time::timeout(RUN_TIMEOUT, command(bao, &args).output())
        .await
        .unwrap_or_else(|_| panic!("examples/hvac_client.py ran longer than {RUN_TIMEOUT:?}"))
        .expect("starting .tools/venv/bin/python");
    let (stdout, stderr) = texts(&out);
    assert_no_secret(&stdout, &stderr, secrets);
    (out.status.code(), stdout)
}

fn texts(out: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("No module named 'hvac'"),
        "hvac is not installed in .tools/venv: run scripts/test.sh\n{stderr}"
    );
    (stdout, stderr)
}

#[track_caller]
fn assert_no_secret(stdout: &str, stderr: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !stdout.contains(s) && !stderr.contains(s),
            "the example printed a key value\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        );
    }
}

/// The whole cut-over as an application sees it: v0; then v1 rejected by the provider and a
/// single retry with v0; then v1 once the provider knows it; then, after `finalize/`, v1 alone.
#[tokio::test]
async fn hvac_example_falls_back_to_the_previous_key_during_a_cut_over() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let (v0, v1) = (secret("app-v0"), secret("app-v1"));
    let secrets = [v0.as_str(), v1.as_str()];
    fake.add_key(&v0);
    create_key(&client, "app", json!({ "value": v0 })).await;

    let (code, out) = run_example(&bao, &fake, &secrets).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("used version 1: HTTP 200 ok"), "{out}");
    assert!(!out.contains("retried"), "{out}");

    // Rotated to v1, which the provider does not accept yet.
    let body = json!({ "value": v1, "grace_period": "1h" });
    data(&rotate(&client, "app", body).await, "rotate to v1");
    let (code, out) = run_example(&bao, &fake, &secrets).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("current version 2 got 401, retried once with previous_api_key"),
        "{out}"
    );
    assert!(
        out.contains("used previous_api_key (current is 2): HTTP 200 ok"),
        "{out}"
    );

    fake.add_key(&v1);
    let (code, out) = run_example(&bao, &fake, &secrets).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("used version 2: HTTP 200 ok"), "{out}");
    assert!(!out.contains("retried"), "{out}");

    write_ok(&client, "ai-keys/finalize/app", json!({})).await;
    fake.remove_key(&v0);
    assert!(creds(&client, "app")
        .await
        .get("previous_api_key")
        .is_none());
    let (code, out) = run_example(&bao, &fake, &secrets).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("used version 2: HTTP 200 ok"), "{out}");
    assert!(!out.contains("previous"), "v1 only: {out}");

    // With v1 gone at the provider too, there is nothing to fall back to: one 401, no retry.
    fake.remove_key(&v1);
    let (code, out) = run_example(&bao, &fake, &secrets).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("used version 2: HTTP 401 rejected"), "{out}");
    assert!(!out.contains("retried"), "{out}");
}

/// The class keeps the last credentials it read: after the server stops, the next call still
/// uses them (and says Vault was unreachable), with no key value printed.
#[tokio::test]
async fn hvac_example_keeps_the_last_good_credentials_while_vault_is_unreachable() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let v0 = secret("app-v0");
    fake.add_key(&v0);
    create_key(&client, "app", json!({ "value": v0 })).await;

    // One call per line on stdin, so the test can stop the server between two calls.
    let script = r#"
import sys, os
sys.path.insert(0, "examples")
import hvac, hvac_client as h
vault = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])
app = h.AiKeyClient(vault, "app")
for _ in sys.stdin:
    status, used, version, notes = app.call(h.list_models(sys.argv[1]))
    print(used, version, status, "|".join(notes), flush=True)
"#;
    let base = fake.base_url();
    let mut child = command(&bao, &["-c", script, &base])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting .tools/venv/bin/python");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = call(&mut stdin, &mut lines, "first call").await;
    assert_eq!(first, "current 1 200 ", "first call");
    drop(bao);
    let second = call(&mut stdin, &mut lines, "call with the server stopped").await;
    assert!(
        second.starts_with("current 1 200 vault unreachable (ConnectionError), using last good"),
        "{second}"
    );
    drop(stdin);
    let out = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .expect("the script to exit at end of input")
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let (stdout, stderr) = texts(&out);
    assert_no_secret(&format!("{first}\n{second}\n{stdout}"), &stderr, &[&v0]);
}

/// Asks the script for one call (a line on its stdin) and returns the line it prints.
async fn call(
    stdin: &mut ChildStdin,
    lines: &mut Lines<BufReader<ChildStdout>>,
    what: &str,
) -> String {
    stdin.write_all(b"\n").await.unwrap();
    tokio::time::timeout(RUN_TIMEOUT, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {RUN_TIMEOUT:?}"))
        .unwrap()
        .unwrap_or_else(|| panic!("{what}: the script exited"))
}
