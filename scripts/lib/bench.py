#!/usr/bin/env python3
"""Measurements for scripts/bench.sh that wrk cannot make (standard library only, loopback only).

  bench.py create N              create keys bench-00000.. (4 connections); prints seconds
  bench.py time PATH [QUERY]     one GET of PATH; prints seconds
  bench.py rotate N PLUGIN_PID   N rotations of one key against a fake provider answering at once;
                                 prints "median_ms p90_ms plugin_cpu_ms_per_rotation"
  bench.py stalled N             N rotations of one key against a provider that never answers
                                 (timeout 1 s), each a 503; prints "median_ms p90_ms"
  bench.py start N PLUGIN        N plugin starts, exec to handshake line; prints "median_ms p90_ms"
  bench.py handrun N PLUGIN      N runs each by hand, with --version and as the host's database
                                 probe, exec to exit; prints the three medians in ms
  bench.py ticks PID SECONDS     plugin CPU of each burst of work (a periodic tick) seen in
                                 SECONDS of sampling; prints one "cpu_ms" per burst

BAO_ADDR and BAO_TOKEN come from the environment.
"""

import http.client
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

CLK_TCK = os.sysconf("SC_CLK_TCK")


def connection():
    url = urllib.parse.urlparse(os.environ["BAO_ADDR"])
    return http.client.HTTPConnection(url.hostname, url.port, timeout=30)


def call(conn, method, path, body=None, expect=None):
    headers = {"X-Vault-Token": os.environ["BAO_TOKEN"]}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    conn.request(method, "/v1/" + path, body=data, headers=headers)
    resp = conn.getresponse()
    text = resp.read()
    if expect is not None:
        if resp.status != expect:
            raise SystemExit(f"{method} {path}: HTTP {resp.status}, not {expect}: {text[:300]!r}")
    elif resp.status >= 300 and resp.status != 404:
        raise SystemExit(f"{method} {path}: HTTP {resp.status}: {text[:300]!r}")
    return resp.status, text


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def create(n):
    n = int(n)
    start = time.monotonic()

    def worker(k):
        conn = connection()
        for i in range(k, n, 4):
            call(conn, "POST", f"ai-keys/keys/bench-{i:05d}",
                 {"value": f"sk-bench-{i:05d}-0123456789abcdef0123"})

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{time.monotonic() - start:.1f}")


def timed(path, query=""):
    conn = connection()
    start = time.monotonic()
    call(conn, "GET", path + (("?" + query) if query else ""))
    print(f"{time.monotonic() - start:.3f}")


class Instant(http.server.BaseHTTPRequestHandler):
    """A provider that accepts every key at once (GET /v1/models and anything else)."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        # Headers and body go out in two writes: without TCP_NODELAY the second waits for the
        # client's delayed ACK (40 ms on Linux), which would be the whole of a rotation's time.
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b'{"object":"list","data":[]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


def rotate(n, plugin_pid):
    n = int(n)
    fake = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Instant)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    conn = connection()
    base = f"http://127.0.0.1:{fake.server_address[1]}"
    call(conn, "POST", "ai-keys/providers/instant",
         {"type": "openai_compatible", "base_url": base, "timeout": "2s"})
    call(conn, "POST", "ai-keys/keys/bench-rotate",
         {"value": "sk-bench-rotate-0000-0123456789abcdef", "provider": "instant"})
    times = []
    before = cpu_ticks(plugin_pid)
    for i in range(1, n + 1):
        start = time.monotonic()
        call(conn, "POST", "ai-keys/rotate/bench-rotate",
             {"value": f"sk-bench-rotate-{i:04d}-0123456789abcdef", "grace_period": "1h"})
        times.append((time.monotonic() - start) * 1000)
    cpu_ms = (cpu_ticks(plugin_pid) - before) * 1000 / CLK_TCK / n
    fake.shutdown()
    times.sort()
    print(f"{statistics.median(times):.2f} {times[int(len(times) * 0.9)]:.2f} {cpu_ms:.2f}")


def stalled(n):
    """rotate/ against a provider that accepts connections and never answers: the key test gives
    up after the provider's timeout (1 s), once, and the rotation answers 503."""
    n = int(n)
    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def accept():
        while True:
            sock, _ = listener.accept()
            held.append(sock)  # read nothing, answer nothing, keep it open

    threading.Thread(target=accept, daemon=True).start()
    conn = connection()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    call(conn, "POST", "ai-keys/providers/stalled",
         {"type": "openai_compatible", "base_url": base, "timeout": "1s"})
    call(conn, "POST", "ai-keys/keys/bench-stalled",
         {"value": "sk-bench-stalled-000-0123456789abcdef", "provider": "stalled"})
    times = []
    for i in range(1, n + 1):
        began = time.monotonic()
        call(conn, "POST", "ai-keys/rotate/bench-stalled",
             {"value": f"sk-bench-stalled-{i:03d}-0123456789abcdef"}, expect=503)
        times.append((time.monotonic() - began) * 1000)
    times.sort()
    print(f"{statistics.median(times):.0f} {times[int(len(times) * 0.9)]:.0f}")


def handrun(n, plugin):
    """The binary run the ways that must exit at once: by hand (no cookie), with --version, and
    as the host's database probe."""
    n = int(n)
    runs = {
        "hand": ([plugin], {"PATH": "/usr/bin:/bin"}, 1),
        "version": ([plugin, "--version"], {}, 0),
        "probe": ([plugin], {"VAULT_DATABASE_PLUGIN": "926a0820-aea2-be28-51d6-83cdf00e8edb",
                             "PLUGIN_PROTOCOL_VERSIONS": "5"}, 1),
    }
    medians = []
    for args, env, code in runs.values():
        times = []
        for _ in range(n):
            began = time.monotonic()
            done = subprocess.run(args, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  timeout=60, check=False)
            times.append((time.monotonic() - began) * 1000)
            if done.returncode != code:
                raise SystemExit(f"{args}: exit {done.returncode}, not {code}")
        medians.append(statistics.median(times))
    print(" ".join(f"{m:.1f}" for m in medians))


def start(n, plugin):
    n = int(n)
    pem = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", "/dev/null", "-subj", "/CN=localhost", "-days", "1"],
        check=True, capture_output=True, text=True).stdout
    env = dict(os.environ, VAULT_BACKEND_PLUGIN="6669da05-b1c8-4f49-97d9-c8e5bed98e20",
               PLUGIN_PROTOCOL_VERSIONS="5", PLUGIN_CLIENT_CERT=pem,
               BAO_PLUGIN_AUTOMTLS_ENABLED="true", VAULT_PLUGIN_AUTOMTLS_ENABLED="true")
    times = []
    for _ in range(n):
        began = time.monotonic()
        proc = subprocess.Popen([plugin], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = proc.stdout.readline()
        times.append((time.monotonic() - began) * 1000)
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if not line.startswith(b"1|5|unix|"):
            raise SystemExit(f"no handshake line: {line!r}")
    times.sort()
    print(f"{statistics.median(times):.1f} {times[int(len(times) * 0.9)]:.1f}")


def ticks(pid, seconds):
    """Samples the CPU of pid every 0.25 s; work separated by 5 s of idleness is one burst."""
    deadline = time.monotonic() + float(seconds)
    last = cpu_ticks(pid)
    bursts, current, idle_since = [], 0, None
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_ticks(pid)
        delta, last = now - last, now
        if delta:
            current += delta
            idle_since = None
        elif current:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= 5:
                bursts.append(current)
                current, idle_since = 0, None
    if current:
        bursts.append(current)
    for b in bursts:
        print(f"{b * 1000 / CLK_TCK:.0f}")


if __name__ == "__main__":
    commands = {"create": create, "time": timed, "rotate": rotate, "stalled": stalled,
                "start": start, "handrun": handrun, "ticks": ticks}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        raise SystemExit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
