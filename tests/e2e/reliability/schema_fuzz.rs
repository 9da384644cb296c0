//! Schemathesis, a third-party schema-driven API fuzzer, against the plugin's own OpenAPI document
//! as the real server serves it (`sys/internal/specs/openapi`, only the mount's paths), with
//! positive and negative examples for every operation, bounded in time; any 5xx fails the test.
//!
//! schemathesis is installed into `.tools/venv` by `ensure_schemathesis` (scripts/lib/tools.sh,
//! called by scripts/test.sh); `AI_KEYS_SCHEMATHESIS` may name another binary. Time bound:
//! `AI_KEYS_SOAK_SCHEMA_SECS` (default 60).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};

use super::hostile::mount_operations;
use super::{figures, size};
use crate::providers::{create_key, openai_provider};
use crate::support::checks::secret;
use crate::support::fake_provider::FakeProvider;
use crate::support::tick::is_test_hook;
use crate::support::Bao;

fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("AI_KEYS_SCHEMATHESIS").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/schemathesis");
    assert!(
        venv.is_file(),
        "schemathesis not found at {}: run scripts/test.sh once (ensure_schemathesis in \
         scripts/lib/tools.sh installs it) or set AI_KEYS_SCHEMATHESIS",
        venv.display()
    );
    venv
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_in_the_plugins_openapi_document() {
    let secs = size("AI_KEYS_SOAK_SCHEMA_SECS", 60).max(5);
    let bin = schemathesis();
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    openai_provider(&client, &fake, "oa").await;
    let v1 = secret("fuzzed");
    fake.add_key(&v1);
    create_key(&client, "fuzzed", json!({ "value": v1, "provider": "oa" })).await;

    let (_, mut doc) = mount_operations(&client).await;
    let paths: serde_json::Map<String, Value> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/ai-keys/") && !is_test_hook(p))
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect();
    let operations = paths.len();
    doc["paths"] = Value::Object(paths);
    let file = bao.dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).expect("writing openapi.json");
    let report = bao.dir.path().join("schemathesis.ndjson");

    let started = Instant::now();
    let out = Command::new(&bin)
        .arg("run")
        .arg(&file)
        .args(["--url", &format!("{}/v1", bao.addr)])
        .args(["--header", &format!("X-Vault-Token: {}", bao.token)])
        .args(["--checks", "not_a_server_error"])
        .args(["--max-time", &secs.to_string()])
        .args(["--workers", "1", "--seed", "8", "--no-color"])
        .args(["--report", "ndjson", "--report-ndjson-path"])
        .arg(&report)
        .env("NO_PROXY", "127.0.0.1,localhost")
        // It keeps a cache (.schemathesis/) in its working directory: the server's, not ours.
        .current_dir(bao.dir.path())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events = std::fs::read_to_string(&report).unwrap_or_default();
    let requests = events.matches("\"request\"").count();
    let server_errors =
        events.matches("\"status_code\": 5").count() + events.matches("\"status_code\":5").count();
    figures(
        "schemathesis",
        &[
            ("operations", &operations),
            ("requests", &requests),
            ("server_errors", &server_errors),
            ("secs", &started.elapsed().as_secs()),
        ],
    );
    assert!(
        out.status.success(),
        "schemathesis failed (exit {:?}):\n{}\n{}\n--- server.log (tail) ---\n{}",
        out.status.code(),
        stdout,
        String::from_utf8_lossy(&out.stderr),
        bao.server_log_tail(40)
    );
    assert!(
        stdout.contains("passed") || stdout.contains("Passed"),
        "schemathesis ran nothing:\n{stdout}"
    );
}
