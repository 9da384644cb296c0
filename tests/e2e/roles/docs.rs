//! The documentation of the roles follows the policy headers: the role tables of
//! docs/security.md are generated from them (the test prints the tables to paste when they
//! differ), the install loop of docs/operating.md names every policy file, and the "Shipped
//! role" column of docs/api.md's path table names exactly the roles whose `can` lines reach
//! each row's paths.

use std::collections::BTreeSet;

use regex::Regex;

use super::header::{header, surface_path, SURFACE};
use super::ROLES;
use crate::support::checks::repo_root;

/// The markers around the generated part of docs/security.md.
const BEGIN: &str = "<!-- roles: generated from the `# can:` lines of policies/*.hcl; tests/e2e/roles/docs.rs fails when they differ -->";
const END: &str = "<!-- /roles -->";

fn doc(name: &str) -> String {
    let path = repo_root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The tables between [`BEGIN`] and [`END`]: one row per role with its summary, then a matrix
/// of what each role can do on each path of the engine (blank: it cannot).
pub(super) fn role_tables() -> String {
    let headers: Vec<_> = ROLES.iter().map(|r| (*r, header(r))).collect();
    let mut out = String::new();
    out.push_str("| Role | For |\n|---|---|\n");
    for (role, h) in &headers {
        out.push_str(&format!(
            "| [`{role}`](../policies/{role}.hcl) | {} |\n",
            h.summary
        ));
    }
    out.push('\n');
    out.push_str("| Path under the mount |");
    for (role, _) in &headers {
        out.push_str(&format!(" `{role}` |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(headers.len()));
    out.push('\n');
    for (path, _) in SURFACE {
        out.push_str(&format!("| `{path}` |"));
        for (_, h) in &headers {
            let cells: Vec<String> = h
                .lines
                .iter()
                .filter(|l| l.can && surface_path(&l.path) == Some(path))
                .map(|l| {
                    let mut cell = l.capabilities.join(", ");
                    if l.path != *path {
                        cell.push_str(&format!(" `{}`", l.path));
                    }
                    if let Some(note) = &l.note {
                        cell.push_str(&format!(" ({note})"));
                    }
                    cell
                })
                .collect();
            if cells.is_empty() {
                out.push_str(" |");
            } else {
                out.push_str(&format!(" {} |", cells.join("; ")));
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_role_tables_of_security_md_are_generated_from_the_policy_headers() {
    let text = doc("docs/security.md");
    let start = text
        .find(BEGIN)
        .unwrap_or_else(|| panic!("docs/security.md has no {BEGIN}"))
        + BEGIN.len();
    let end = text[start..]
        .find(END)
        .unwrap_or_else(|| panic!("docs/security.md has no {END}"))
        + start;
    let expected = role_tables();
    assert!(
        text[start..end].trim() == expected.trim(),
        "docs/security.md's role tables differ from the policy headers; paste this between \
         the markers:\n\n{expected}"
    );
}

/// The policy files there are, by name.
fn policy_files() -> BTreeSet<String> {
    std::fs::read_dir(repo_root().join("policies"))
        .expect("policies/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".hcl").map(str::to_owned))
        .collect()
}

#[test]
fn every_policy_file_is_a_tested_role_and_installed_by_operating_md() {
    let roles: BTreeSet<String> = ROLES.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        policy_files(),
        roles,
        "tests/e2e/roles.rs ROLES names every policies/*.hcl"
    );
    let text = doc("docs/operating.md");
    let loop_line = text
        .lines()
        .find(|l| l.starts_with("for role in ") && l.ends_with("; do"))
        .expect("docs/operating.md's `for role in ...; do` loop installing the policies");
    let installed: BTreeSet<String> = loop_line
        .trim_start_matches("for role in ")
        .trim_end_matches("; do")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(installed, roles, "{loop_line}");
}

/// The family of a path as api.md writes it: `keys/:name` and `keys/` are `keys`.
fn family(path: &str) -> &str {
    path.split(['/', ':']).next().unwrap_or(path)
}

#[test]
fn the_path_table_of_api_md_names_the_roles_that_can_use_each_path() {
    let text = doc("docs/api.md");
    let section = text
        .split("\n## Paths\n")
        .nth(1)
        .expect("docs/api.md has a Paths section");
    let code = Regex::new("`([^`]*)`").unwrap();
    let word = Regex::new("[a-z_]+").unwrap();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let rows: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with("| Path |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(!rows.is_empty(), "docs/api.md's path table");
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let [paths, operations, roles] = cells[..] else {
            panic!("docs/api.md: a path table row has three cells: {row}");
        };
        let families: BTreeSet<&str> = code
            .captures_iter(paths)
            .map(|c| family(c.get(1).unwrap().as_str()))
            .collect();
        let surface: Vec<&(&str, &[&str])> = SURFACE
            .iter()
            .filter(|(p, _)| families.contains(family(p)))
            .collect();
        assert_eq!(
            surface.len(),
            families.len(),
            "docs/api.md: {row} names a path the engine does not serve"
        );
        let operations_said: BTreeSet<&str> =
            word.find_iter(operations).map(|m| m.as_str()).collect();
        let operations_served: BTreeSet<&str> = surface
            .iter()
            .flat_map(|(_, caps)| caps.iter().copied())
            .collect();
        assert_eq!(operations_said, operations_served, "docs/api.md: {row}");
        let roles_said: BTreeSet<&str> = word
            .find_iter(roles)
            .map(|m| m.as_str())
            .filter(|w| ROLES.contains(w))
            .collect();
        let roles_granted: BTreeSet<&str> = ROLES
            .into_iter()
            .filter(|role| {
                header(role)
                    .lines
                    .iter()
                    .any(|l| l.can && families.contains(family(&l.path)))
            })
            .collect();
        assert_eq!(
            roles_said, roles_granted,
            "docs/api.md: the roles of {row} are those whose policy header can use its paths"
        );
        seen.extend(families.iter().map(|f| f.to_string()));
    }
    let all: BTreeSet<String> = SURFACE.iter().map(|(p, _)| family(p).to_owned()).collect();
    assert_eq!(
        seen, all,
        "docs/api.md's path table has a row for every path family"
    );
}
