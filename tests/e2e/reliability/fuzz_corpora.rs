//! The committed `cargo fuzz` corpora (fuzz/corpus/<target>/*) replayed through the same target
//! bodies (fuzz/targets.rs) in the ordinary test run, so every input a fuzzing run kept (and every
//! seed) stays a regression test without libFuzzer. The fuzzing itself runs in scripts/fuzz.sh
//! (called by scripts/soak.sh).

use std::path::Path;

#[path = "../../../fuzz/targets.rs"]
mod targets;

/// Feeds every file of `fuzz/corpus/<target>` to `f`; returns how many.
fn replay(target: &str, f: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("corpus file");
        let outcome = std::panic::catch_unwind(|| f(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", path.display());
        n += 1;
    }
    assert!(n > 0, "empty corpus for {target}");
    n
}

#[test]
fn request_decoding_corpus() {
    replay("request_decoding", targets::request_decoding);
}

#[test]
fn field_coercion_corpus() {
    replay("field_coercion", targets::field_coercion);
}

#[test]
fn duration_parsing_corpus() {
    replay("duration_parsing", targets::duration_parsing);
}

#[test]
fn handshake_env_corpus() {
    replay("handshake_env", targets::handshake_env);
}

/// A fuzz target: its corpus directory's name and its body.
type Target = (&'static str, fn(&[u8]));

/// Mutations per target in the bounded run below: a few seconds in all.
const MUTATIONS_PER_TARGET: usize = 20_000;

/// One random mutation of `input`, the kinds libFuzzer's default mutator makes: flip a bit,
/// set a byte to a boundary value, insert or remove a byte, duplicate or cut a run, splice in
/// a token that matters to these parsers.
fn mutate(input: &[u8], rng: &mut impl rand::Rng) -> Vec<u8> {
    const TOKENS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b":",
        b",",
        b"-",
        b"9223372036854775807",
        b"1e308",
        b"h",
        b"ms",
        b"us",
        b"d",
        b"\\u0000",
        b"\xff",
        b"null",
        b"true",
        b"=",
        b"\n",
        b"\0",
        b"0.",
        b"T",
        b"Z",
        b"+",
        b"1_000",
    ];
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = if out.is_empty() {
            0
        } else {
            rng.random_range(0..=out.len())
        };
        match rng.random_range(0..6) {
            0 if at < out.len() => out[at] ^= 1 << rng.random_range(0..8),
            1 if at < out.len() => out[at] = [0, 0x7f, 0x80, 0xff, b'9'][rng.random_range(0..5)],
            2 => out.insert(at, rng.random()),
            3 if at < out.len() => {
                out.remove(at);
            }
            4 if at < out.len() => {
                let end = rng.random_range(at..=out.len().min(at + 16));
                let run = out[at..end].to_vec();
                out.splice(at..at, run);
            }
            _ => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
        }
    }
    out.truncate(64 * 1024);
    out
}

/// The suite's short bounded fuzzing run: `cargo fuzz` itself (libFuzzer, its
/// sanitizer build and its install) costs many minutes on the CI machine, so the suite mutates
/// the committed corpora with the mutator above, from a seed it prints, through the same target
/// bodies; scripts/fuzz.sh runs the coverage-guided fuzzer. `AI_KEYS_FUZZ_SEED` replays a run.
#[test]
fn bounded_mutation_run_over_every_target() {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("AI_KEYS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let targets: [Target; 4] = [
        ("request_decoding", targets::request_decoding),
        ("field_coercion", targets::field_coercion),
        ("duration_parsing", targets::duration_parsing),
        ("handshake_env", targets::handshake_env),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut executions = 0;
    for (target, f) in targets {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| std::fs::read(e.expect("corpus entry").path()).expect("corpus file"))
            .collect();
        corpus.sort();
        assert!(!corpus.is_empty(), "empty corpus for {target}");
        for _ in 0..MUTATIONS_PER_TARGET {
            let base = &corpus[rng.random_range(0..corpus.len())];
            let input = mutate(base, &mut rng);
            let outcome = std::panic::catch_unwind(|| f(&input));
            assert!(
                outcome.is_ok(),
                "{target} fails on a mutated input (AI_KEYS_FUZZ_SEED={seed}): {input:?}"
            );
            executions += 1;
        }
    }
    println!("fuzz slice: seed {seed}, {executions} executions, 0 failures");
}
