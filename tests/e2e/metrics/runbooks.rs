//! Every alert's runbook (deploy/prometheus/ai-keys.rules.yml) works under the shipped roles:
//! each command in backticks runs, through bash with the real `bao` CLI (and curl), as a
//! userpass user holding only the role the runbook names for it ("as <role>"), with
//! `require_separate_approver` off and on as the runbook's sections say ("Two-person rule
//! off:", "Two-person rule on:", "Either way:"), on a key set up for that alert, and the server
//! accepts it. A runbook that tells people to do what their role or the two-person rule forbids
//! fails here.

use std::process::{Output, Stdio};
use std::time::Duration;

use chrono::{SecondsFormat, TimeDelta, Utc};
use regex::Regex;
use serde_json::json;
use tokio::process::Command;

use crate::providers::{create_key, openai_provider, read_key};
use crate::roles::{install_roles, login, ROLES};
use crate::support::checks::{expect_error, output_text, read_ok, repo_root, secret, write_ok};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::raw::{raw_get, raw_put_reloaded};
use crate::support::{bao_bin, Bao, Client};

/// Bound of one command (a CLI call against a local server takes well under a second).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The sentence a runbook whose steps do not depend on the two-person rule ends with.
const EITHER_WAY: &str = "The same with the two-person rule on or off.";

/// Which setting of `require_separate_approver` a step is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Off,
    On,
}

/// One command of a runbook: for the rule off or on (`None`: either way), as `role`.
#[derive(Debug, Clone)]
struct Step {
    rule: Option<Rule>,
    role: String,
    command: String,
}

/// (alert, runbook) for every alert of the rules file. The runbooks are YAML double-quoted
/// scalars on one line, whose escapes are JSON's.
fn runbooks() -> Vec<(String, String)> {
    let path = repo_root().join("deploy/prometheus/ai-keys.rules.yml");
    let text = std::fs::read_to_string(&path).expect("the alert rules");
    let mut alert: Option<String> = None;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("- alert: ") {
            alert = Some(name.to_owned());
        } else if let Some(quoted) = line.strip_prefix("runbook: ") {
            let name = alert
                .take()
                .expect("a runbook belongs to the alert above it");
            let runbook: String = serde_json::from_str(quoted).unwrap_or_else(|e| {
                panic!("the runbook of {name} is one double-quoted line ({e}): {quoted}")
            });
            out.push((name, runbook));
        }
    }
    assert_eq!(
        out.len(),
        text.matches("- alert: ").count(),
        "a runbook per alert"
    );
    out
}

/// The commands of a runbook in order, each with its rule and role. A command is a backticked
/// span starting `bao ` or `curl `; "as <role>" (a shipped role) names the role of the commands
/// after it, until the next one or the next section.
fn steps(alert: &str, runbook: &str) -> Vec<Step> {
    let token = Regex::new(
        r"(Two-person rule off:|Two-person rule on:|Either way:)|\bas ([a-z]+)\b|`([^`]*)`",
    )
    .unwrap();
    let mut rule = None;
    let mut role: Option<String> = None;
    let mut out = Vec::new();
    for c in token.captures_iter(runbook) {
        if let Some(marker) = c.get(1) {
            rule = match marker.as_str() {
                "Two-person rule off:" => Some(Rule::Off),
                "Two-person rule on:" => Some(Rule::On),
                _ => None,
            };
            role = None;
        } else if let Some(word) = c.get(2) {
            if ROLES.contains(&word.as_str()) {
                role = Some(word.as_str().to_owned());
            }
        } else if let Some(code) = c.get(3) {
            let code = code.as_str();
            if code.starts_with("bao ") || code.starts_with("curl ") {
                let role = role.clone().unwrap_or_else(|| {
                    panic!("{alert}: `{code}` has no \"as <role>\" before it in its section")
                });
                out.push(Step {
                    rule,
                    role,
                    command: code.to_owned(),
                });
            }
        }
    }
    out
}

/// Every runbook has commands, each with a shipped role, and says what to do both with the
/// two-person rule off and on: either a section for each, or that its steps are the same.
#[test]
fn every_runbook_names_a_role_for_each_command_and_the_steps_with_the_rule_off_and_on() {
    let all = runbooks();
    assert_eq!(all.len(), 14);
    for (alert, runbook) in &all {
        let steps = steps(alert, runbook);
        assert!(!steps.is_empty(), "{alert}: no command: {runbook}");
        let off = steps.iter().any(|s| s.rule == Some(Rule::Off));
        let on = steps.iter().any(|s| s.rule == Some(Rule::On));
        assert_eq!(
            off, on,
            "{alert}: steps for the rule off and for it on: {runbook}"
        );
        assert!(
            off || runbook.ends_with(EITHER_WAY),
            "{alert}: without sections, the runbook ends with {EITHER_WAY:?}: {runbook}"
        );
        assert!(
            !steps
                .iter()
                .any(|s| s.rule == Some(Rule::On) && s.role == "rotator"),
            "{alert}: the rotator's rotate/ is refused while the rule is on: {runbook}"
        );
    }
}

/// The key `alert`'s runbook acts on, set up by the root token (with the rule off) as the
/// alert finds it: a key with a value the fake provider accepts and the provider `fake`
/// (which creates keys); overdue, after a failed rotation, past its planned grace, with a
/// retired version whose revocation at the provider failed, or with a retired imported version
/// (version 1, not the engine's) left to a person to revoke.
async fn prepare(root: &Client, fake: &FakeProvider, alert: &str, key: &str) {
    let value = secret(key);
    fake.add_key(&value);
    let mut body = json!({ "value": value, "provider": "fake" });
    if alert == "AiKeyExposed" {
        // No provider that creates keys: exposed marks the key instead of rotating it away.
        body = json!({ "value": value });
    }
    if alert == "AiKeyOverdue" {
        let long_ago = Utc::now() - TimeDelta::days(100);
        body["created_time"] = json!(long_ago.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    create_key(root, key, body).await;
    let rotate_path = format!("ai-keys/rotate/{key}");
    let rotate = |body| root.write(&rotate_path, body);
    match alert {
        "AiKeyOverdue"
        | "AiKeyDueSoonWithoutAutoRotate"
        | "AiKeyCurrentKeyRejected"
        | "AiKeyProviderExpiryNear"
        | "AiKeysPeriodicWorkStalled"
        | "AiKeysNotScraped" => {}
        "AiKeyExposed" => {
            let body = json!({ "value": value, "source": "runbook test", "reason": "a leak" });
            write_ok(root, "ai-keys/exposed", body).await;
            assert_eq!(read_key(root, key).await["exposed"]["version"], 1);
        }
        "AiKeysNotificationsFailing" => {
            // A webhook whose receiver is not there (the discard port).
            let whsec = format!("whsec_{}", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY");
            write_ok(
                root,
                "ai-keys/notifications/ops",
                json!({ "url": "http://127.0.0.1:9/hook", "secret": whsec }),
            )
            .await;
        }
        "AiKeyRotationFailed" => {
            let refused = rotate(json!({ "value": secret("unknown-to-the-provider") })).await;
            expect_error(&refused, 400, &["bad_key"], "the failed rotation");
        }
        "AiKeyPastPlannedGrace" => {
            let next = secret(key);
            fake.add_key(&next);
            let rotated = rotate(json!({ "value": next })).await;
            assert!(rotated.is_success(), "{}", rotated.text);
            write_ok(
                root,
                &format!("ai-keys/extend/{key}"),
                json!({ "grace_period": "72h" }),
            )
            .await;
        }
        "AiKeyProviderRevocationPending" => {
            for _ in 0..2 {
                let rotated = rotate(json!({})).await;
                assert!(rotated.is_success(), "{}", rotated.text);
            }
            fake.set_admin_mode(Mode::ServerError500);
            write_ok(root, &format!("ai-keys/finalize/{key}"), json!({})).await;
            fake.set_admin_mode(Mode::Normal);
            let read = read_key(root, key).await;
            assert_eq!(
                read["versions"]["2"]["provider_revocation"]["status"], "pending",
                "{read:#}"
            );
        }
        "AiKeyManualRevocationUnacknowledged" => {
            let rotated = rotate(json!({ "grace_period": "0s" })).await;
            assert!(rotated.is_success(), "{}", rotated.text);
            let read = read_key(root, key).await;
            assert_eq!(
                read["versions"]["1"]["provider_revocation"]["status"], "manual",
                "{read:#}"
            );
        }
        "AiKeyDeletedKeyManualRevocationUnacknowledged" => {
            let rotated = rotate(json!({ "grace_period": "0s" })).await;
            assert!(rotated.is_success(), "{}", rotated.text);
            let deleted = root.delete(&format!("ai-keys/keys/{key}")).await;
            assert!(deleted.is_success(), "{}", deleted.text);
            assert!(
                deleted_manual_of(root, key).await > 0,
                "the deleted key's manual revocation is counted"
            );
        }
        "AiKeyRecordsRefused" => {
            // keys/<key> is refused: it names another key, <key>-orig, which records the same
            // versions (so every live key it holds is claimed and the record may be removed).
            let stored: serde_json::Value =
                serde_json::from_str(&raw_get(root, &format!("keys/{key}")).await.unwrap())
                    .unwrap();
            let mut copy = stored.clone();
            copy["key"]["name"] = json!(format!("{key}-orig"));
            let copy = copy.to_string();
            raw_put_reloaded(root, &format!("keys/{key}-orig"), &copy).await;
            raw_put_reloaded(root, &format!("keys/{key}"), &copy).await;
            let refused = root.read(&format!("ai-keys/keys/{key}")).await;
            expect_error(
                &refused,
                500,
                &[&format!("keys/{key}")],
                "the planted record",
            );
        }
        other => panic!("no set-up for alert {other}: teach prepare() what its key looks like"),
    }
}

/// How many manual revocations of deleted key `key` the report lists, nobody having acknowledged
/// them.
async fn deleted_manual_of(root: &Client, key: &str) -> usize {
    let report = read_ok(root, "ai-keys/report").await;
    report["deleted_keys_revocations_manual"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["key"] == key)
        .count()
}

/// After `alert`'s runbook ran on `key` (current version `before`): what it fixed is fixed.
async fn check_fixed(root: &Client, alert: &str, key: &str, before: u64) {
    if alert == "AiKeyDeletedKeyManualRevocationUnacknowledged" {
        assert_eq!(
            deleted_manual_of(root, key).await,
            0,
            "{alert}: the runbook acknowledged {key}'s"
        );
        return;
    }
    if alert == "AiKeyRecordsRefused" {
        assert!(
            raw_get(root, &format!("keys/{key}")).await.is_none(),
            "{alert}: the runbook removed the refused record of {key}"
        );
        return;
    }
    let read = read_key(root, key).await;
    let current = read["current_version"].as_u64().expect("current_version");
    match alert {
        "AiKeyExposed" => {
            assert!(
                current > before,
                "{alert}: the runbook rotated {key}: {read:#}"
            );
            assert!(read["exposed"].is_null(), "{alert}: {read:#}");
        }
        "AiKeyOverdue"
        | "AiKeyDueSoonWithoutAutoRotate"
        | "AiKeyRotationFailed"
        | "AiKeyCurrentKeyRejected"
        | "AiKeyProviderExpiryNear" => {
            assert!(
                current > before,
                "{alert}: the runbook rotated {key}: {read:#}"
            );
        }
        "AiKeyPastPlannedGrace" => {
            let creds = read_ok(root, &format!("ai-keys/creds/{key}")).await;
            assert!(
                creds.get("previous_api_key").is_none(),
                "{alert}: the runbook ended the grace window of {key}"
            );
        }
        "AiKeyManualRevocationUnacknowledged" => {
            let revocation = &read["versions"]["1"]["provider_revocation"];
            assert_eq!(revocation["status"], "acknowledged", "{alert}: {read:#}");
        }
        _ => {}
    }
}

/// The command with its placeholders filled: the labels, `<key>`, `<provider>`, `<name>` (the
/// webhook [`prepare`] configures), `<version>`
/// (version 1: the one [`prepare`] leaves to a person), and values the
/// fake provider accepts for `value=...` and `admin_key=...`.
fn fill(command: &str, fake: &FakeProvider, key: &str) -> String {
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
async fn run(bao: &Bao, bin: &std::path::Path, token: &str, command: &str) -> Output {
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

#[tokio::test]
async fn every_runbook_command_is_accepted_as_its_role_with_the_rule_off_and_on() {
    let bao = Bao::start().await;
    let fake = FakeProvider::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let mut tokens = Vec::new();
    for role in ROLES {
        let client = login(&bao, role).await;
        tokens.push((role, client.token().expect("a token").to_owned()));
    }
    let token_of = |role: &str| {
        tokens
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, t)| t.clone())
            .expect("a shipped role")
    };
    let bin = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink(bao_bin(), bin.path().join("bao")).expect("linking bao");

    openai_provider(&root, &fake, "fake").await;
    // Keeps `overdue` listing a key after the runbooks have rotated theirs.
    prepare(&root, &fake, "AiKeyOverdue", "long-overdue").await;
    let all = runbooks();
    let key = |alert: &str, rule: Rule| {
        let rule = match rule {
            Rule::Off => "off",
            Rule::On => "on",
        };
        format!("{}-{rule}", alert.to_lowercase())
    };
    // Every key is made with the rule off: with it on, a key's first version is not the root's
    // to make live alone.
    for (alert, _) in &all {
        for rule in [Rule::Off, Rule::On] {
            prepare(&root, &fake, alert, &key(alert, rule)).await;
        }
    }
    let mut ran = 0;
    for rule in [Rule::Off, Rule::On] {
        if rule == Rule::On {
            write_ok(
                &root,
                "ai-keys/config",
                json!({ "require_separate_approver": true }),
            )
            .await;
        }
        for (alert, runbook) in &all {
            let key = key(alert, rule);
            // 0 for a key its alert's set-up deleted.
            let before = root.read(&format!("ai-keys/keys/{key}")).await.data()["current_version"]
                .as_u64()
                .unwrap_or(0);
            for step in steps(alert, runbook) {
                if step.rule.is_some_and(|r| r != rule) {
                    continue;
                }
                let command = fill(&step.command, &fake, &key);
                let out = run(&bao, bin.path(), &token_of(&step.role), &command).await;
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success() && !stdout.contains("\"errors\""),
                    "{alert}, rule {rule:?}: as {} `{command}` is not accepted:\n{}",
                    step.role,
                    output_text(&out)
                );
                ran += 1;
            }
            check_fixed(&root, alert, &key, before).await;
        }
    }
    // Each runbook's either-way commands ran twice, the sectioned ones once.
    let expected: usize = all
        .iter()
        .flat_map(|(alert, runbook)| steps(alert, runbook))
        .map(|s| if s.rule.is_none() { 2 } else { 1 })
        .sum();
    assert_eq!(ran, expected);
}
