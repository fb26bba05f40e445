"""Counters add up over gunicorn's worker processes (prometheus_client's multiprocess mode).

A real gunicorn with the project's gunicorn.conf.py and two workers: whichever worker answers
the scrape, it counts the requests both served, and a worker that is replaced keeps its counts.
The hooks that prepare the directory are also called directly, without a server.
"""

import glob
import http.client
import os
import runpy
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from lms.testing import free_port
from lms.tests.processes import subprocess_env

BASE_DIR = Path(__file__).resolve().parents[2]
HEALTHZ_SAMPLE = {"route": "healthz", "method": "GET", "status": "200"}


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _healthz_count(exposition: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "lms_http_requests_total" and sample.labels == HEALTHZ_SAMPLE:
                return sample.value
    return 0.0


def _healthz_by_pid(directory: Path) -> dict[int, float]:
    """Each worker's own count, read from its file alone (counter_<pid>.db)."""
    counts = {}
    for path in glob.glob(str(directory / "counter_*.db")):
        pid = int(Path(path).stem.split("_")[1])
        for metric in MultiProcessCollector.merge([path]):
            for sample in metric.samples:
                if sample.name == "lms_http_requests_total" and sample.labels == HEALTHZ_SAMPLE:
                    counts[pid] = sample.value
    return counts


def _stale_counter(directory: Path) -> None:
    """What a previous server run left: 1,000 /healthz requests of a long-gone pid."""
    stale = MmapedDict(str(directory / "counter_1.db"))
    key = mmap_key(
        "lms_http_requests", "lms_http_requests_total", ["route", "method", "status"], ["healthz", "GET", "200"], "old"
    )
    stale.write_value(key, 1000.0, 0.0)
    stale.close()


@pytest.fixture
def server(django_db_setup, django_db_blocker, tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    _stale_counter(directory)
    port = free_port()
    env = {
        **subprocess_env(),
        "DATABASE_POOL_MIN_SIZE": "1",
        "DATABASE_POOL_MAX_SIZE": "2",
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "WEB_THREADS": "2",
        "ALLOWED_HOSTS": "127.0.0.1",
        "METRICS_ENABLED": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    env.pop("METRICS_TOKEN", None)
    log = (tmp_path / "gunicorn.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "lms.wsgi:application"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(port, "/metrics")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"gunicorn did not start:\n{log.read()[-3000:]}")
            time.sleep(0.2)
        yield SimpleNamespace(port=port, directory=directory, log=log)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.mark.xdist_group("subprocesses")
@pytest.mark.timeout(120)
def test_a_scrape_counts_the_requests_of_both_workers_and_of_a_replaced_one(server):
    port, directory = server.port, server.directory
    assert _healthz_count(_get(port, "/metrics")[1]) == 0, "the previous run's counts were not wiped"

    # Both workers accept on one socket; send until each has served some (the kernel picks).
    sent, deadline = 0, time.monotonic() + 30
    with ThreadPoolExecutor(max_workers=6) as pool:
        while len([n for n in _healthz_by_pid(directory).values() if n]) < 2 and time.monotonic() < deadline:
            statuses = list(pool.map(lambda _: _get(port, "/healthz")[0], range(30)))
            assert statuses == [200] * 30
            sent += 30
    by_pid = _healthz_by_pid(directory)
    assert len([n for n in by_pid.values() if n]) == 2, by_pid

    assert sum(by_pid.values()) == sent
    assert _healthz_count(_get(port, "/metrics")[1]) == sent

    # A worker replaced (as max_requests recycles one): its counts stay in the total.
    gone = next(pid for pid, count in by_pid.items() if count)
    os.kill(gone, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(gone, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"worker {gone} did not exit")
    assert _get(port, "/healthz")[0] == 200
    assert _healthz_count(_get(port, "/metrics")[1]) == sent + 1
    server.log.seek(0)
    assert "preload_app imported prometheus_client" not in server.log.read()


# --- the hooks alone -------------------------------------------------------------------------


def _master() -> SimpleNamespace:
    """What the hooks use of gunicorn's arbiter: its log, here a list of the warnings."""
    warnings: list[str] = []
    return SimpleNamespace(log=SimpleNamespace(warning=warnings.append), warnings=warnings)


@pytest.fixture
def hooks(monkeypatch):
    # Set, then removed: monkeypatch then deletes what on_starting writes there after the test
    # (left behind, it would switch this process's /metrics to multiprocess mode).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    return runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))


def test_without_a_directory_each_start_makes_a_fresh_one_and_removes_it_on_exit(hooks, monkeypatch):
    monkeypatch.setenv("METRICS_ENABLED", "true")
    server = _master()

    hooks["on_starting"](server)
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    assert os.path.isdir(directory) and not os.listdir(directory)
    hooks["child_exit"](server, SimpleNamespace(pid=12345))  # no live gauge files: nothing to do
    hooks["on_exit"](server)

    assert not os.path.exists(directory)


def test_a_given_directory_is_emptied_of_old_counts_and_kept(hooks, monkeypatch, tmp_path):
    monkeypatch.setenv("METRICS_ENABLED", "true")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    _stale_counter(tmp_path)
    (tmp_path / "notes.txt").write_text("not ours")
    server = _master()

    hooks["on_starting"](server)
    hooks["on_exit"](server)

    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]
    # This process imported prometheus_client already, as preload_app would have in the master.
    assert [w for w in server.warnings if w.startswith("preload_app imported prometheus_client")]


def test_with_metrics_off_no_directory_is_made(hooks, monkeypatch):
    monkeypatch.delenv("METRICS_ENABLED", raising=False)

    hooks["on_starting"](_master())

    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
