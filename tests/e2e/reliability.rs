//! Reliability under fault injection: no key is lost, revived or orphaned when the plugin is
//! SIGKILLed during provider-backed rotations, when clients hammer keys in parallel, when requests
//! are hostile, or when the provider misbehaves.
//!
//! Every test is sized by environment variables (`AI_KEYS_SOAK_*`, read by [`size`]) whose
//! defaults keep `.ci/run` short; `scripts/soak.sh` runs the same tests with large sizes. Each
//! test prints one line of figures, `RELIABILITY test=<name> key=value ...` ([`figures`]), which
//! soak.sh collects into its table (run with `--nocapture` to see them).

mod concurrency;
mod crash_loop;
mod crash_replays;
mod failover;
mod fuzz_corpora;
mod hostile;

mod invariants;
mod planted_records;
mod provider_faults;
mod replay;
mod restarts;
mod schema_fuzz;

use std::fmt::Display;

/// `$var` as a number, `default` when unset or empty; panics on anything else, so a typo in a
/// soak run is not silently the CI size.
pub(crate) fn size(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("${var} must be a whole number, not {v:?}")),
        _ => default,
    }
}

/// Prints one parseable line of figures for `test` (to stdout: `--nocapture` shows it).
pub(crate) fn figures(test: &str, pairs: &[(&str, &dyn Display)]) {
    let mut line = format!("RELIABILITY test={test}");
    for (k, v) in pairs {
        line.push_str(&format!(" {k}={v}"));
    }
    println!("{line}");
}
