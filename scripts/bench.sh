#!/usr/bin/env bash
# Throughput of the plugin's hot paths against OpenBao's builtin KV v2 on the same server in the
# same run, reported as ratios (absolute numbers on a shared 2-core machine mean little).
#
#   scripts/bench.sh                  # 5 s per measurement
#   BENCH_SECONDS=10 scripts/bench.sh
#
# Loopback only; every load run is bounded by BENCH_SECONDS. Needs wrk (installed with apt-get
# when missing and running as root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh
# shellcheck source=scripts/lib/devserver.sh
source scripts/lib/devserver.sh

seconds="${BENCH_SECONDS:-5}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1 || seconds > 60)); then
  die "BENCH_SECONDS must be 1..60"
fi

if ! command -v wrk >/dev/null; then
  [[ "$(id -u)" == 0 ]] || die "wrk is missing; install it (apt-get install wrk)"
  run apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
fi

ensure_bao
run cargo build --release
start_dev_server "${CARGO_TARGET_DIR:-target}/release/$PLUGIN_COMMAND"

bao() { "$BAO_BIN" "$@"; }
bao secrets enable -path=kvbench -version=2 kv >/dev/null
bao kv put -mount=kvbench bench api_key=sk-bench-kv-0000000000000000 >/dev/null
bao write "$PLUGIN_NAME/keys/bench" value=sk-bench-plugin-000000000000 >/dev/null
# The built-in default policy costs about 3x CPU per request (openbao.md): bench with a token
# that has only what it reads.
bao policy write bench - >/dev/null <<'HCL'
path "kvbench/data/bench" { capabilities = ["read"] }
path "ai-keys/creds/bench" { capabilities = ["read"] }
path "ai-keys/keys/bench"  { capabilities = ["read"] }
HCL
token="$(bao token create -no-default-policy -policy=bench -field=token)"

# Requests/s of GET $1 with $2 connections.
measure() {
  local path="$1" conns="$2" threads=1 out
  ((conns > 1)) && threads=2
  out="$(wrk -t"$threads" -c"$conns" -d"${seconds}s" -H "X-Vault-Token: $token" "$BAO_ADDR/v1/$path")"
  grep -q 'Non-2xx' <<<"$out" && die "non-2xx answers from $path: $out"
  awk '/^Requests\/sec/ { print $2 }' <<<"$out"
}

printf '\n%-28s %6s %12s %12s %7s\n' "request" "conns" "kv v2 req/s" "plugin req/s" "ratio"
for conns in 1 8; do
  kv="$(measure kvbench/data/bench "$conns")"
  for path in "$PLUGIN_NAME/creds/bench" "$PLUGIN_NAME/keys/bench"; do
    ours="$(measure "$path" "$conns")"
    ratio="$(awk -v a="$ours" -v b="$kv" 'BEGIN { printf "%.2f", a / b }')"
    printf '%-28s %6s %12.0f %12.0f %7s\n' "GET $path" "$conns" "$kv" "$ours" "$ratio"
  done
done
printf '\nratio = plugin req/s / KV v2 req/s on the same server in the same run (%s s each).\n' "$seconds"
