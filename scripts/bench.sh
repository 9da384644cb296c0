#!/usr/bin/env bash
# The performance figures (docs/testing.md, "Benchmarks"), on a throwaway dev server of our own, in one table: reads of KV v2, of
# the external-plugin floor (an unknown path under the mount: the plugin answers 404 with no
# work) and of creds/ and keys/, at 1 and 8 connections, as ratios measured in the same run;
# server and plugin CPU per request (from /proc); plugin RSS idle, after the reads and at 10,000
# keys; plugin start time; keys/ list, overdue and metrics (both formats, with the CPU each costs)
# at 10,000 keys; the periodic tick's plugin CPU at 10,000 keys; rotate/ against a provider
# answering at once and against one that never answers (the time the tests used to assert);
# the binary's exits when run by hand, with --version and as the host's database probe.
#
#   scripts/bench.sh                                   # builds the release plugin, 5 s per read run
#   BENCH_SECONDS=10 BENCH_KEYS=10000 scripts/bench.sh
#   BENCH_PLUGIN=/path/to/plugin scripts/bench.sh      # an existing build (say, the previous one)
#   BENCH_TICKS=0 scripts/bench.sh                     # skip the 2-minute wait for two ticks
#
# Loopback only; every step is bounded (BENCH_SECONDS per read run, BENCH_KEYS keys, 130 s of
# tick sampling). Absolute figures on a shared machine mean little: compare the ratios, which
# come from the same server in the same run. Needs wrk, openssl and python3 (wrk is installed
# with apt-get when missing and running as root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh
# shellcheck source=scripts/lib/devserver.sh
source scripts/lib/devserver.sh

seconds="${BENCH_SECONDS:-5}"
keys="${BENCH_KEYS:-10000}"
tick_wait="${BENCH_TICKS:-1}"
[[ "$seconds" =~ ^[0-9]+$ ]] && ((seconds >= 1 && seconds <= 60)) || die "BENCH_SECONDS must be 1..60"
[[ "$keys" =~ ^[0-9]+$ ]] && ((keys >= 1 && keys <= 100000)) || die "BENCH_KEYS must be 1..100000"

ensure_bench_tools
ensure_bao
if [[ -n "${BENCH_PLUGIN:-}" ]]; then
  plugin="$BENCH_PLUGIN"
else
  run cargo build --release
  plugin="${CARGO_TARGET_DIR:-target}/release/$PLUGIN_COMMAND"
fi
[[ -x "$plugin" ]] || die "no plugin binary at $plugin"
helper=(python3 scripts/lib/bench.py)
hz="$(getconf CLK_TCK)"

# No audit device: it costs every request the same and would only hide the differences.
AI_KEYS_DEV_AUDIT=0 start_dev_server "$plugin"
bao() { "$BAO_BIN" "$@"; }

# The mounted plugin process: a child of the server running the plugin binary.
plugin_pid() {
  local pid
  for pid in $(ps -o pid= --ppid "$server_pid"); do
    [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$work/plugins/$PLUGIN_COMMAND" ]] &&
      { echo "$pid"; return; }
  done
  die "no plugin process under the server"
}
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

bao read -format=json ai-keys/config >/dev/null # the mount answers
pid="$(plugin_pid)"
rss_idle="$(rss_mib "$pid")"

bao secrets enable -path=kvbench -version=2 kv >/dev/null
bao kv put -mount=kvbench bench api_key=sk-bench-kv-0000000000000000 >/dev/null
bao write ai-keys/keys/bench value=sk-bench-plugin-000000000000 >/dev/null
# The built-in default policy costs about 3x CPU per request (openbao.md): bench with a token
# that has only what it reads.
bao policy write bench - >/dev/null <<'HCL'
path "kvbench/data/bench" { capabilities = ["read"] }
path "ai-keys/floor"       { capabilities = ["read"] }
path "ai-keys/creds/bench" { capabilities = ["read"] }
path "ai-keys/keys/bench"  { capabilities = ["read"] }
HCL
token="$(bao token create -no-default-policy -policy=bench -field=token)"

# Milliseconds of a wrk latency figure ("123.45us", "1.20ms", "1.02s").
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}

# GET $1 with $2 connections: "req/s p50_ms p99_ms server_us/req plugin_us/req".
measure() {
  local path="$1" conns="$2" want="${3:-200}" threads=1 out s0 p0 s1 p1 n
  ((conns > 1)) && threads=2
  s0="$(cpu "$server_pid")" p0="$(cpu "$pid")"
  out="$(wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency -H "X-Vault-Token: $token" \
    "$BAO_ADDR/v1/$path")"
  s1="$(cpu "$server_pid")" p1="$(cpu "$pid")"
  if [[ "$want" == 200 ]] && grep -q 'Non-2xx' <<<"$out"; then
    die "non-2xx answers from $path: $out"
  fi
  n="$(awk '/requests in/ { print $1 }' <<<"$out")"
  printf '%s %s %s %s %s\n' \
    "$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")" \
    "$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")" \
    "$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")" \
    "$(awk -v d="$((s1 - s0))" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.0f", d * 1e6 / hz / n }')" \
    "$(awk -v d="$((p1 - p0))" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.0f", d * 1e6 / hz / n }')"
}

declare -A result
for conns in 1 8; do
  result[kv,$conns]="$(measure kvbench/data/bench "$conns")"
  result[floor,$conns]="$(measure ai-keys/floor "$conns" 404)"
  result[creds,$conns]="$(measure ai-keys/creds/bench "$conns")"
  result[keys,$conns]="$(measure ai-keys/keys/bench "$conns")"
done
rss_after="$(rss_mib "$pid")"

log "creating $keys keys"
create_s="$("${helper[@]}" create "$keys")"
list_s="$("${helper[@]}" time ai-keys/keys list=true)"
# "seconds (CPU: plugin s, server s)" of one read of $1 (query $2).
timed_cpu() {
  local s0 p0 t s1 p1
  s0="$(cpu "$server_pid")" p0="$(cpu "$pid")"
  t="$("${helper[@]}" time "$@")"
  s1="$(cpu "$server_pid")" p1="$(cpu "$pid")"
  awk -v t="$t" -v p="$((p1 - p0))" -v s="$((s1 - s0))" -v hz="$hz" \
    'BEGIN { printf "%s s (CPU: plugin %.2f s, server %.2f s)", t, p / hz, s / hz }'
}
# The first report after the creates reads every record (and keeps each key's digest); the
# next ones read only the records changed since.
overdue_cold_s="$(timed_cpu ai-keys/overdue)"
overdue_s="$(timed_cpu ai-keys/overdue)"
metrics_prom_s="$(timed_cpu ai-keys/metrics format=prometheus)"
metrics_s="$(timed_cpu ai-keys/metrics)"
ticks="skipped (BENCH_TICKS=0)"
if [[ "$tick_wait" != 0 ]]; then
  log "sampling the plugin's CPU for 130 s (two periodic ticks, every 60 s)"
  mapfile -t bursts < <("${helper[@]}" ticks "$pid" 130)
  # Each burst of plugin CPU separated by 5 s of idleness; the ticks are 60 s apart, and a burst
  # of one /proc tick (10 ms) may be anything (the parent watchdog, a stray request).
  if ((${#bursts[@]} == 0)); then
    ticks="no CPU burst above /proc's resolution ($((1000 / hz)) ms) in 130 s"
  else
    ticks="CPU bursts in 130 s (ms): ${bursts[*]} (the first tick after the creates works on every key)"
  fi
fi
rss_keys="$(rss_mib "$pid")"
read -r rot_p50 rot_p90 rot_cpu <<<"$("${helper[@]}" rotate 50 "$pid")"
read -r stall_p50 stall_p90 <<<"$("${helper[@]}" stalled 5)"
read -r start_p50 start_p90 <<<"$("${helper[@]}" start 30 "$plugin")"
read -r hand_ms version_ms probe_ms <<<"$("${helper[@]}" handrun 30 "$plugin")"

row() { # name conns
  local r kv fl
  read -r -a r <<<"${result[$1,$2]}"
  read -r -a kv <<<"${result[kv,$2]}"
  read -r -a fl <<<"${result[floor,$2]}"
  printf '%-22s %5s %9.0f %7s %7s %7.2f %8.2f %10s %10s\n' "$3" "$2" "${r[0]}" "${r[1]}" "${r[2]}" \
    "$(awk -v a="${r[0]}" -v b="${kv[0]}" 'BEGIN { print a / b }')" \
    "$(awk -v a="${r[0]}" -v b="${fl[0]}" 'BEGIN { print a / b }')" "${r[3]}" "${r[4]}"
}

printf '\n%-22s %5s %9s %7s %7s %7s %8s %10s %10s\n' request conns 'req/s' 'p50 ms' 'p99 ms' \
  'vs KV' 'vs floor' 'server us' 'plugin us'
for conns in 1 8; do
  row kv "$conns" "KV v2 read"
  row floor "$conns" "plugin floor (404)"
  row creds "$conns" "creds/ read"
  row keys "$conns" "keys/ read"
done
cat <<EOF

plugin RSS: idle after mount ${rss_idle} MiB, after the reads ${rss_after} MiB, at $keys keys ${rss_keys} MiB
plugin start, exec to handshake line: median ${start_p50} ms, p90 ${start_p90} ms (30 starts)
plugin exec to exit: by hand ${hand_ms} ms, --version ${version_ms} ms, as the database probe ${probe_ms} ms (medians of 30)
$keys keys: created in ${create_s} s; keys/ list ${list_s} s
  overdue:  ${overdue_s}; the first after the creates ${overdue_cold_s}
  metrics:  Prometheus text ${metrics_prom_s}; JSON ${metrics_s}
periodic tick at $keys keys, plugin CPU: $ticks
rotate/ (stage, test against a provider answering at once, promote): median ${rot_p50} ms, p90 ${rot_p90} ms, plugin CPU ${rot_cpu} ms per rotation (50 rotations)
rotate/ against a provider that never answers (timeout 1 s): 503 after median ${stall_p50} ms, p90 ${stall_p90} ms (5 rotations; one timeout each, no retry)

${seconds} s per read run with wrk; "server us"/"plugin us" = CPU time per request from /proc
(resolution $((1000 / hz)) ms over the run); vs KV / vs floor = req/s ratios in this run. No audit device.
machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)
EOF
