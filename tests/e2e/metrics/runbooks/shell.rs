//! A runbook command as run here: placeholders filled, then bash with the real `bao` first on
//! PATH, as the holder of a token, bounded in time.

use super::*;

/// The command with its placeholders filled: the labels, `<key>`, `<provider>`, `<name>` (the
/// webhook [`prepare`] configures), `<version>`
/// (version 1: the one [`prepare`] leaves to a person), and values the
/// fake provider accepts for `value=...` and `admin_key=...`.
pub(super) fn fill(command: &str, fake: &FakeProvider, key: &str) -> String {
    let mut c = command
        .replace("{{ $labels.mount }}", "ai-keys")
        .replace("{{ $labels.key }}", key)
        .replace("<key>", key)
        .replace("<provider>", "fake")
        .replace("<version>", "1")
        .replace("<name>", "ops");
    if c.contains(" value=...") {
        let v = secret("runbook");
        fake.add_key(&v);
        c = c.replace("value=...", &format!("value={v}"));
    }
    if c.contains("admin_key=...") {
        let a = secret("runbook-admin");
        fake.add_admin_key(&a);
        c = c.replace("admin_key=...", &format!("admin_key={a}"));
    }
    assert!(
        !c.contains("{{") && !c.contains('<') && !c.contains("..."),
        "a placeholder this test cannot fill in {command:?}: teach fill() it"
    );
    c
}

/// Runs `command` with bash, the real `bao` first on PATH, as the holder of `token`
/// (`BAO_TOKEN`, and `TOKEN` for the curl line).
pub(super) async fn run(bao: &Bao, bin: &std::path::Path, token: &str, command: &str) -> Output {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = Command::new("bash")
        .arg("-c")
        .arg(command)
        .env("PATH", path)
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", token)
        .env("TOKEN", token)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(COMMAND_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("{command} ran too long"))
        .expect("running bash")
}
