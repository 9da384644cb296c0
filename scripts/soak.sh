#!/usr/bin/env bash
# The reliability suite (tests/e2e/reliability*) in its long size, against real OpenBao
# servers and the fake provider, then a table of its figures. The same tests run in .ci/run with
# small sizes; here the sizes come from the arguments (defaults below).
#
#   scripts/soak.sh                              # 1000 rotations under SIGKILL, 32 x 100 ops, ...
#   scripts/soak.sh --rotations 5000 --keys 16   # longer
#   scripts/soak.sh --only crash_loop            # one test (a filter on the test names)
#   scripts/soak.sh --only crash_replays --replay-rotations 400   # replayed rotations, early kills
#   scripts/soak.sh --fuzz-secs 600              # then each cargo fuzz target for 10 minutes
#   scripts/soak.sh --restarts 10 --failover-rotations 40   # the Raft cluster tests, longer
#   scripts/soak.sh --only model                 # the model-based test alone (no server)
#   scripts/soak.sh --only model --model-sequences 5000 --model-secs 3600
#
# The model-based test (src/backend/tests/model.rs: random operations with faults, invariants
# after every step) runs in-process: --model-sequences sequences of --model-steps steps, with
# faults that cost a 1 s timeout included, until --model-secs have passed; 0 sequences skips it.
# Its seed is printed (AI_KEYS_TEST_SEED replays it), and so is every sequence a known defect
# stopped; its figures are the `MODEL test=...` line.
#
# Each test prints one line `RELIABILITY test=NAME key=value ...`; the table at the end has one
# block per test. The tests run one at a time (--test-threads 1) so their figures are not
# distorted by each other.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh

rotations=1000 keys=8 held_every=3 clients=32 ops=100 schema_secs=600 huge_mb=8 only=""
fuzz_secs=60 restarts=6 failover_rotations=20 replay_rotations=300
model_sequences=1000 model_steps=40 model_secs=900
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rotations) rotations="$2"; shift 2 ;;
    --keys) keys="$2"; shift 2 ;;
    --held-every) held_every="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --ops) ops="$2"; shift 2 ;;
    --schema-secs) schema_secs="$2"; shift 2 ;;
    --huge-mb) huge_mb="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --fuzz-secs) fuzz_secs="$2"; shift 2 ;; # per cargo fuzz target; 0 skips fuzzing
    --restarts) restarts="$2"; shift 2 ;; # whole-cluster stops, SIGTERM and SIGKILL in turn
    --failover-rotations) failover_rotations="$2"; shift 2 ;; # the leader dies in the middle
    --replay-rotations) replay_rotations="$2"; shift 2 ;; # rotation_id retries, kills 0-80 ms in
    --model-sequences) model_sequences="$2"; shift 2 ;;
    --model-steps) model_steps="$2"; shift 2 ;;
    --model-secs) model_secs="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

export AI_KEYS_SOAK_ROTATIONS="$rotations" AI_KEYS_SOAK_KEYS="$keys"
export AI_KEYS_SOAK_HELD_EVERY="$held_every" AI_KEYS_SOAK_CLIENTS="$clients"
export AI_KEYS_SOAK_OPS_PER_CLIENT="$ops" AI_KEYS_SOAK_SCHEMA_SECS="$schema_secs"
export AI_KEYS_SOAK_HUGE_MB="$huge_mb" AI_KEYS_SOAK_RESTARTS="$restarts"
export AI_KEYS_SOAK_FAILOVER_ROTATIONS="$failover_rotations"
export AI_KEYS_SOAK_REPLAY_ROTATIONS="$replay_rotations"

out="$(mktemp "${TMPDIR:-/tmp}/ai-keys-soak.XXXXXX")"
log "output in $out"
status=0
if [[ "$only" != model ]]; then
  ensure_bao
  ensure_schemathesis
  run cargo test --features test-hooks --test e2e -- --nocapture --test-threads 1 "reliability::${only}" 2>&1 \
    | tee -a "$out" || status=$?
fi
if [[ "$model_sequences" != 0 && ( -z "$only" || "$only" == model ) ]]; then
  AI_KEYS_MODEL_SEQUENCES="$model_sequences" AI_KEYS_MODEL_STEPS="$model_steps" \
    AI_KEYS_MODEL_SECONDS="$model_secs" AI_KEYS_MODEL_TIMEOUTS=1 \
    run cargo test --features test-hooks --lib -- --nocapture \
    backend::tests::model::random_operations_with_faults_keep_every_invariant 2>&1 \
    | tee -a "$out" || status=$?
fi
if [[ "$fuzz_secs" != 0 && -z "$only" ]]; then
  scripts/fuzz.sh "$fuzz_secs" 2>&1 | tee -a "$out" || status=$?
fi

echo
echo "== reliability figures =="
grep -oE '(RELIABILITY|MODEL) test=.*' "$out" | while read -r _ test rest; do
  printf '\n%s\n' "${test#test=}"
  for pair in $rest; do
    printf '  %-34s %s\n' "${pair%%=*}" "${pair#*=}"
  done
done
grep -E '^test result:' "$out" || true
exit "$status"
