//! What a policy file says it grants, and what it grants.
//!
//! Each `policies/<role>.hcl` opens with a comment block: a title paragraph
//! (`# ai-keys role "<role>": <what it is for>`), then one line per path under the mount,
//!
//! ```text
//! # can: read, list keys/*
//! # cannot: update promote/*
//! # can: update rotate/* (a note, shown in the docs)
//! ```
//!
//! capabilities first, then the path as the file's `path` blocks write it without the mount
//! (`list` on `keys/*` is the LIST of `keys/`), then an optional note in parentheses. The `can`
//! lines are exactly what the `path` blocks grant; `can` and `cannot` together name every
//! operation of the engine ([`SURFACE`]) once. The tests here hold the files to that without a
//! server; `live.rs` checks every line against a real one.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use super::{policy_text, ROLES};

/// The mount the shipped policies name, as their `path` blocks spell it.
pub(super) const MOUNT_PREFIX: &str = "ai-keys/";

/// Every operation the engine serves, as a policy grants it: the path under the mount (a glob
/// as policies write it) and its capabilities. Every family of the API is here; `live.rs`
/// checks this list against the plugin's OpenAPI document.
pub(super) const SURFACE: &[(&str, &[&str])] = &[
    ("config", &["read", "update"]),
    (
        "schedules/*",
        &["create", "read", "update", "delete", "list"],
    ),
    (
        "providers/*",
        &["create", "read", "update", "delete", "list"],
    ),
    ("keys/*", &["create", "read", "update", "delete", "list"]),
    ("creds/*", &["read"]),
    ("stage/*", &["update"]),
    ("test/*", &["update"]),
    ("promote/*", &["update"]),
    ("rollback/*", &["update"]),
    ("rotate/*", &["update"]),
    ("finalize/*", &["update"]),
    ("extend/*", &["update"]),
    ("verify/*", &["update"]),
    ("acknowledge/*", &["update"]),
    ("records/keys/*", &["read", "delete"]),
    ("exposed", &["update"]),
    ("history/*", &["read"]),
    ("overdue", &["read"]),
    ("metrics", &["read"]),
    ("report", &["read"]),
    ("reconcile", &["update"]),
    ("rotate-signing-key", &["update"]),
    (
        "notifications/*",
        &["create", "read", "update", "delete", "list"],
    ),
];

/// The capabilities a header line may name (Vault's, `deny` and `sudo` included).
const CAPABILITIES: [&str; 8] = [
    "create", "read", "update", "patch", "delete", "list", "sudo", "deny",
];

/// One `# can:` or `# cannot:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub(super) can: bool,
    pub(super) capabilities: Vec<String>,
    /// Under the mount, as a `path` block writes it (`keys/*`, `config`, `creds/my-app`).
    pub(super) path: String,
    pub(super) note: Option<String>,
}

/// A policy file's header.
#[derive(Debug, Clone)]
pub(super) struct Header {
    /// The title paragraph after `ai-keys role "<role>": `, joined into one line.
    pub(super) summary: String,
    pub(super) lines: Vec<Line>,
}

impl Header {
    /// (capability, path) of every `can` (or `cannot`) line.
    pub(super) fn pairs(&self, can: bool) -> BTreeSet<(String, String)> {
        self.lines
            .iter()
            .filter(|l| l.can == can)
            .flat_map(|l| l.capabilities.iter().map(|c| (c.clone(), l.path.clone())))
            .collect()
    }

    /// Whether a `can` line grants `capability` on `path` exactly as written.
    pub(super) fn can(&self, capability: &str, path: &str) -> bool {
        self.pairs(true)
            .contains(&(capability.to_owned(), path.to_owned()))
    }
}

/// The header of `policies/<role>.hcl`.
pub(super) fn header(role: &str) -> Header {
    parse_header(role, &policy_text(role))
}

/// Parses the leading comment block of a policy file (see the module doc).
pub(super) fn parse_header(role: &str, text: &str) -> Header {
    let block: Vec<&str> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    let title: Vec<&str> = block
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect();
    let title = title.join(" ");
    let prefix = format!("ai-keys role \"{role}\": ");
    let summary = title
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("policies/{role}.hcl must open with `# {prefix}...`: {title:?}"))
        .to_owned();
    let lines: Vec<Line> = block
        .iter()
        .filter_map(|l| {
            if let Some(rest) = l.strip_prefix("can:") {
                Some(parse_line(role, true, rest))
            } else {
                l.strip_prefix("cannot:")
                    .map(|rest| parse_line(role, false, rest))
            }
        })
        .collect();
    assert!(
        !lines.is_empty(),
        "policies/{role}.hcl has no can/cannot lines"
    );
    // A can/cannot line below the header would be read by nobody: refuse it.
    let below = text.lines().skip(block.len()).find(|l| {
        let l = l.trim_start_matches('#').trim();
        l.starts_with("can:") || l.starts_with("cannot:")
    });
    assert!(
        below.is_none(),
        "policies/{role}.hcl: {below:?} is below the header, where it is not read"
    );
    Header { summary, lines }
}

fn parse_line(role: &str, can: bool, rest: &str) -> Line {
    let rest = rest.trim();
    let (main, note) = match rest.find(" (") {
        Some(i) => {
            let note = rest[i + 2..].strip_suffix(')').unwrap_or_else(|| {
                panic!("policies/{role}.hcl: a note runs to the line's end in ')': {rest:?}")
            });
            (&rest[..i], Some(note.to_owned()))
        }
        None => (rest, None),
    };
    let mut words: Vec<&str> = main.split([',', ' ']).filter(|w| !w.is_empty()).collect();
    let path = words
        .pop()
        .unwrap_or_else(|| panic!("policies/{role}.hcl: empty line {rest:?}"));
    assert!(
        !words.is_empty(),
        "policies/{role}.hcl: {rest:?} names no capability before the path"
    );
    for word in &words {
        assert!(
            CAPABILITIES.contains(word),
            "policies/{role}.hcl: {word:?} in {rest:?} is not a capability ({CAPABILITIES:?})"
        );
    }
    assert!(
        !path.starts_with('/') && !path.starts_with(MOUNT_PREFIX),
        "policies/{role}.hcl: {rest:?}: the path is written under the mount (`keys/*`)"
    );
    Line {
        can,
        capabilities: words.into_iter().map(str::to_owned).collect(),
        path: path.to_owned(),
        note,
    }
}

/// (capability, path under the mount) of every grant in the file's `path` blocks. Panics on
/// anything else in the file (parameters constraints, other mounts, syntax this reader does not
/// know), so no grant can hide from the comparison with the header.
pub(super) fn hcl_grants(role: &str, text: &str) -> BTreeSet<(String, String)> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let block =
        Regex::new(r#"path\s+"([^"]*)"\s*\{\s*capabilities\s*=\s*\[([^\]]*)\]\s*\}"#).unwrap();
    let mut grants = BTreeSet::new();
    for c in block.captures_iter(&code) {
        let path = c[1].strip_prefix(MOUNT_PREFIX).unwrap_or_else(|| {
            panic!(
                "policies/{role}.hcl: path {:?} is not under {MOUNT_PREFIX}",
                &c[1]
            )
        });
        let capabilities: Vec<&str> = c[2]
            .split(',')
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        assert!(!capabilities.is_empty(), "policies/{role}.hcl: {}", &c[0]);
        for cap in capabilities {
            let cap = cap
                .strip_prefix('"')
                .and_then(|c| c.strip_suffix('"'))
                .unwrap_or_else(|| panic!("policies/{role}.hcl: capability {cap} is not quoted"));
            grants.insert((cap.to_owned(), path.to_owned()));
        }
    }
    let rest = block.replace_all(&code, "");
    assert!(
        rest.trim().is_empty(),
        "policies/{role}.hcl holds more than `path {{ capabilities }}` blocks, which this test \
         cannot compare with the header: {rest:?}"
    );
    grants
}

/// Whether the policy glob `pattern` (Vault's: a `*` only at the end, a prefix match) matches
/// `path`, which may itself be a narrower glob.
pub(super) fn glob_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => {
            assert!(!prefix.contains(['*', '+']), "glob {pattern:?}");
            path.starts_with(prefix)
        }
        None => pattern == path,
    }
}

/// The [`SURFACE`] path a header path names or narrows (`creds/my-app` narrows `creds/*`).
pub(super) fn surface_path(path: &str) -> Option<&'static str> {
    SURFACE
        .iter()
        .map(|(p, _)| *p)
        .find(|p| glob_matches(p, path))
}

/// A grant the `path` blocks make that no `can` line says, or a `can` line no block grants:
/// either is drift between what the file says and what it does.
#[test]
fn every_grant_of_a_policy_is_a_can_line_of_its_header_and_back() {
    for role in ROLES {
        let text = policy_text(role);
        let said = header(role).pairs(true);
        let granted = hcl_grants(role, &text);
        let unsaid: Vec<_> = granted.difference(&said).collect();
        let ungranted: Vec<_> = said.difference(&granted).collect();
        assert!(
            unsaid.is_empty() && ungranted.is_empty(),
            "policies/{role}.hcl: granted by a path block but no `# can:` line says so: \
             {unsaid:?}; said by a `# can:` line but granted by no path block: {ungranted:?}"
        );
    }
}

/// A small policy whose header and `path` blocks agree.
const AGREEING: &str = r#"# ai-keys role "sample": stages.
#
# can: update stage/*
# can: read, list keys/*
# cannot: update promote/*
path "ai-keys/stage/*" {
  capabilities = ["update"]
}
path "ai-keys/keys/*" {
  capabilities = ["read", "list"]
}
"#;

/// The comparison really compares: a grant added to a file without its header line, a header
/// line without its grant, and a block the reader cannot compare are each caught.
#[test]
fn a_grant_added_without_its_header_line_is_drift() {
    let said = parse_header("sample", AGREEING).pairs(true);
    assert_eq!(hcl_grants("sample", AGREEING), said);
    let widened =
        format!("{AGREEING}path \"ai-keys/promote/*\" {{\n  capabilities = [\"update\"]\n}}\n");
    assert_ne!(hcl_grants("sample", &widened), said);
    let wider_capability = AGREEING.replace(r#"["read", "list"]"#, r#"["read", "list", "update"]"#);
    assert_ne!(hcl_grants("sample", &wider_capability), said);
    let narrowed = AGREEING.replace(r#"["read", "list"]"#, r#"["read"]"#);
    assert_ne!(hcl_grants("sample", &narrowed), said);
    let constrained = AGREEING.replace(
        "capabilities = [\"update\"]\n}",
        "capabilities = [\"update\"]\n  denied_parameters = { \"force\" = [] }\n}",
    );
    let refused = std::panic::catch_unwind(|| hcl_grants("sample", &constrained));
    assert!(
        refused.is_err(),
        "a block this reader cannot compare is refused"
    );
}

/// Each header names every operation of the engine once, as `can` or `cannot` (a `can` may
/// narrow one, as `app`'s `creds/my-app` does, beside the `cannot` of the whole family), and
/// names nothing the engine does not serve.
#[test]
fn every_policy_header_says_can_or_cannot_for_every_operation_of_the_engine() {
    let served: BTreeMap<&str, &[&str]> = SURFACE.iter().copied().collect();
    for role in ROLES {
        let header = header(role);
        let mut named: BTreeMap<(String, String), bool> = BTreeMap::new();
        for line in &header.lines {
            let family = surface_path(&line.path).unwrap_or_else(|| {
                panic!(
                    "policies/{role}.hcl: {:?} is no path of the engine",
                    line.path
                )
            });
            for cap in &line.capabilities {
                assert!(
                    served[family].contains(&cap.as_str()),
                    "policies/{role}.hcl: the engine serves no {cap} on {}",
                    line.path
                );
                let again = named.insert((cap.clone(), line.path.clone()), line.can);
                assert!(
                    again.is_none(),
                    "policies/{role}.hcl names {cap} {} twice",
                    line.path
                );
            }
        }
        for (path, caps) in SURFACE {
            for cap in *caps {
                assert!(
                    named.contains_key(&(cap.to_string(), path.to_string())),
                    "policies/{role}.hcl says neither `# can: {cap} {path}` nor \
                     `# cannot: {cap} {path}`"
                );
            }
        }
    }
}

/// The two-person rule's point: no role but the rotator (the one-person path, refused by the
/// engine while the rule is on) can make a new version live by itself, through `rotate/` or
/// through both `stage/` and `promote/`.
#[test]
fn only_the_rotator_can_make_a_version_live_alone() {
    let alone: Vec<&str> = ROLES
        .into_iter()
        .filter(|role| {
            let h = header(role);
            h.can("update", "rotate/*")
                || (h.can("update", "stage/*") && h.can("update", "promote/*"))
        })
        .collect();
    assert_eq!(alone, ["rotator"]);
    let rotate = header("rotator")
        .lines
        .into_iter()
        .find(|l| l.can && l.path == "rotate/*")
        .expect("the rotator's rotate/ line");
    assert!(
        rotate
            .note
            .as_deref()
            .is_some_and(|n| n.contains("require_separate_approver")),
        "the rotator's rotate/ line says the engine refuses it under the rule: {rotate:?}"
    );
}
