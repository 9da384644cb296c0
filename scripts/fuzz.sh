#!/usr/bin/env bash
# Runs every cargo fuzz target (fuzz/, its own workspace) for a bounded time each, growing the
# committed corpora in fuzz/corpus/<target> (commit what it adds: the ordinary test run replays
# them, tests/e2e/reliability/fuzz_corpora.rs). Prints `RELIABILITY test=fuzz_<target> ...`
# lines like the rest of the reliability suite; scripts/soak.sh calls it.
#
#   scripts/fuzz.sh            # 60 s per target
#   scripts/fuzz.sh 600        # 10 minutes per target
#
# cargo fuzz passes sanitizer flags that need a nightly compiler; the machine has only stable,
# so RUSTC_BOOTSTRAP=1 lets stable accept them (the targets' own code is plain stable Rust).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh

secs="${1:-60}"
ensure_cargo_fuzz
export RUSTC_BOOTSTRAP=1
# The instrumented build lives apart from the crate's own target/ (different flags).
export CARGO_TARGET_DIR="$PWD/fuzz/target"

cd fuzz
targets=(request_decoding field_coercion duration_parsing handshake_env)
started=$(date +%s)
run cargo fuzz build
log "instrumented build: $(( $(date +%s) - started )) s"
status=0
for t in "${targets[@]}"; do
  out="$(mktemp)"
  if cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -print_final_stats=1 \
      >"$out" 2>&1; then
    result=ok
  else
    result=FAILED status=1
    tail -40 "$out"
  fi
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$' || echo 0)"
  corpus="$(find "corpus/$t" -type f | wc -l)"
  echo "RELIABILITY test=fuzz_$t result=$result secs=$secs executions=$execs corpus_files=$corpus"
  rm -f "$out"
done
exit "$status"
