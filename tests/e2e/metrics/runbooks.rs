//! Every alert's runbook (deploy/prometheus/ai-keys.rules.yml) works under the shipped roles:
//! each command in backticks runs, through bash with the real `bao` CLI (and curl), as a
//! userpass user holding only the role the runbook names for it ("as <role>"), with
//! `require_separate_approver` off and on as the runbook's sections say ("Two-person rule
//! off:", "Two-person rule on:", "Either way:"), on a key set up for that alert, and the server
//! accepts it. A runbook that tells people to do what their role or the two-person rule forbids
//! fails here.

mod setup;
mod shell;
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
use setup::{check_fixed, prepare};
use shell::{fill, run};

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
