"""The throughput phase of ``bench/cart_evaluate.py`` (``--wrk``): gunicorn (2 workers,
gthread) on loopback with the production settings of the run, driven by ``wrk``, for

  new        POST /api/v1/cart/evaluate served from this checkout
  baseline   the same, served from a git worktree of BASELINE_COMMIT (same .venv, same
             database, same Redis), so the figure is new / baseline / bare in one run
  bare       GET /bench/bare, a bare Django JSON view (bench-only URLconf: bench_urls.py)
             on this checkout's server

Each target gets a warm-up, then ``--wrk-seconds`` of load; the three are measured one after
another, twice, in alternating order, and the best of each is kept (the other helpers of a
shared machine add noise, never speed). ``wrk`` is a system package: ``apt-get install -y wrk``.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT

BASELINE_COMMIT = "032f3d1"
BASELINE_DIR = Path("/tmp/evalbase")
WORKERS, THREADS = 2, 4
CONNECTIONS, WRK_THREADS = 8, 2
EVALUATE = "/api/v1/cart/evaluate"
BARE = "/bench/bare"


def baseline_checkout(directory: Path = BASELINE_DIR, commit: str = BASELINE_COMMIT) -> Path:
    """A git worktree of ``commit`` at ``directory`` (made when missing)."""
    if not (directory / "manage.py").exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(directory), commit], cwd=ROOT, check=True)
    found = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, check=True)
    if not found.stdout.startswith(commit):
        sys.exit(f"{directory} is at {found.stdout.strip()}, not {commit}: remove it (git worktree remove)")
    return directory


class Server:
    """gunicorn serving ``checkout`` with the bench settings (bench_urls: the bare view too)."""

    def __init__(self, checkout: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench_settings", "PYTHONPATH": f"{checkout}:{ROOT / 'bench'}"}
        command = [
            str(ROOT / ".venv/bin/gunicorn"), "lms.wsgi", "-w", str(WORKERS), "-k", "gthread",
            "--threads", str(THREADS), "--keep-alive", "30", "-b", f"127.0.0.1:{self.port}",
            "--chdir", str(checkout), "--log-level", "warning",
        ]  # fmt: skip
        # Started from the checkout: gunicorn puts its starting directory on sys.path too.
        self.process = subprocess.Popen(command, env=env, cwd=checkout)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{BARE}", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:  # not listening yet
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                sys.exit(f"gunicorn for {checkout} did not start")
            time.sleep(0.3)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)


def _wrk_script(directory: str, key: str | None, body: bytes | None) -> str:
    path = os.path.join(directory, f"wrk-{'post' if body else 'get'}.lua")
    lines = []
    if body is not None:
        lines += ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}",
                  'wrk.headers["Content-Type"] = "application/json"']  # fmt: skip
    if key is not None:
        lines.append(f'wrk.headers["Authorization"] = "Api-Key {key}"')
    Path(path).write_text("\n".join(lines) + "\n")
    return path


def wrk(url: str, script: str, seconds: int) -> dict:
    """req/s, latency percentiles (ms) and non-2xx answers of one wrk run."""
    command = [
        "wrk",
        "-t",
        str(WRK_THREADS),
        "-c",
        str(CONNECTIONS),
        "-d",
        f"{seconds}s",
        "--latency",
        "-s",
        script,
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {}
    for percent, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        latency[int(percent)] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rate": rate, "latency": latency, "non_2xx": int(errors.group(1)) if errors else 0}


def _check(port: int, key: str, body: bytes, label: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{EVALUATE}", data=body, method="POST",
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:
        if answer.status != 200:
            sys.exit(f"{label}: cart/evaluate answered {answer.status}")


def run(key: str, body: bytes, seconds: int, rounds: int = 2) -> dict[str, dict]:
    """The best of ``rounds`` wrk runs of each target (see the module's docstring)."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk (or run without --wrk)")
    baseline = baseline_checkout()
    servers = {"new": Server(ROOT), "baseline": Server(baseline)}
    best: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory() as directory:
            post, get = _wrk_script(directory, key, body), _wrk_script(directory, None, None)
            targets = {
                "new": (f"http://127.0.0.1:{servers['new'].port}{EVALUATE}", post),
                "baseline": (f"http://127.0.0.1:{servers['baseline'].port}{EVALUATE}", post),
                "bare": (f"http://127.0.0.1:{servers['new'].port}{BARE}", get),
            }
            for name in ("new", "baseline"):
                _check(servers[name].port, key, body, name)
            for url, script in targets.values():
                wrk(url, script, 3)  # warm-up: snapshots, pools, code paths in both workers
            for round_ in range(rounds):
                order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
                for name in order:
                    figures = wrk(*targets[name], seconds)
                    if name not in best or figures["rate"] > best[name]["rate"]:
                        best[name] = figures
    finally:
        for server in servers.values():
            server.stop()
    return best


def report(best: dict[str, dict]) -> None:
    bare = best["bare"]["rate"]
    print(
        f"\nthroughput: gunicorn {WORKERS} workers x {THREADS} threads (gthread), wrk {WRK_THREADS} threads "
        f"{CONNECTIONS} connections, best of 2 runs each"
    )
    print(f"{'':<44}{'req/s':>9}{'% of bare':>11}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    labels = {
        "new": "POST /api/v1/cart/evaluate (this checkout)",
        "baseline": f"POST /api/v1/cart/evaluate ({BASELINE_COMMIT})",
        "bare": "GET /bench/bare (bare Django JSON view)",
    }
    for name, label in labels.items():
        figures = best[name]
        lat = figures["latency"]
        print(
            f"{label:<44}{figures['rate']:>9.0f}{100 * figures['rate'] / bare:>10.1f}%"
            f"{lat.get(50, 0):>9.2f}{lat.get(90, 0):>9.2f}{lat.get(99, 0):>9.2f}{figures['non_2xx']:>9}"
        )
    speedup = best["new"]["rate"] / best["baseline"]["rate"]
    share = 100 * best["new"]["rate"] / bare
    print(
        f"aims: >= 3x the baseline ({speedup:.2f}x: {'met' if speedup >= 3 else 'MISSED'}); "
        f">= 13 % of bare ({share:.1f} %: {'met' if share >= 13 else 'MISSED'})"
    )
