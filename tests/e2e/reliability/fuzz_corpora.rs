//! Issue 8.5: the committed `cargo fuzz` corpora (fuzz/corpus/<target>/*) replayed through the
//! same target bodies (fuzz/targets.rs) in the ordinary test run, so every input a fuzzing run
//! kept (and every seed) stays a regression test without libFuzzer. The fuzzing itself runs in
//! scripts/fuzz.sh (called by scripts/soak.sh).

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
