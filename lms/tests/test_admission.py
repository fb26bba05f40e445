"""Admission control (lms/admission.py): the shedding decision, its answer, and a real gunicorn
(gunicorn.conf.py's pre_request hook) that sheds a burst beyond its limit with fast 503s while
the requests it admits succeed."""

import http.client
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client

from lms.admission import (
    Queue,
    StandingQueue,
    admission_refused,
    gunicorn_queue,
    gunicorn_stamp,
    queue_note,
    queue_take,
)
from lms.testing import free_port
from lms.tests.processes import subprocess_env

BASE_DIR = Path(__file__).resolve().parents[2]
EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})


@pytest.fixture(autouse=True)
def _no_noted_queue():
    queue_take()  # nothing left over from another test in this thread
    yield
    queue_take()


@pytest.mark.parametrize(
    ("queue", "standing", "path", "refused"),
    [
        (None, False, "/api/v1/cart/evaluate", False),  # not under gunicorn: nothing noted
        (Queue(waiting=0, threads=4), False, "/api/v1/cart/evaluate", False),
        (Queue(waiting=16, threads=4), False, "/api/v1/cart/evaluate", False),  # at the limit (4 per thread)
        (Queue(waiting=17, threads=4), False, "/api/v1/cart/evaluate", True),
        (Queue(waiting=5, threads=1), False, "/api/v1/me", True),
        (Queue(waiting=0, threads=4, waited=0.9), True, "/api/v1/me", True),
        (Queue(waiting=500, threads=4, waited=9.0), True, "/healthz", False),
        (Queue(waiting=500, threads=4, waited=9.0), True, "/readyz/", False),
        (Queue(waiting=500, threads=4, waited=9.0), True, "/metrics", False),
        (Queue(waiting=500, threads=4), False, "/healthzz", True),  # exempt means exactly the probe
    ],
)
def test_the_decision_sheds_a_standing_queue_or_a_long_one_never_a_probe(queue, standing, path, refused):
    decision = admission_refused(queue=queue, path=path, standing=standing, per_thread=4, exempt=EXEMPT)

    assert decision is refused


def test_a_queue_limit_of_zero_sheds_whenever_anything_waits():
    def refused(queue: Queue) -> bool:
        return admission_refused(queue=queue, path="/x", standing=False, per_thread=0, exempt=EXEMPT)

    assert refused(Queue(waiting=1, threads=8))
    assert not refused(Queue(waiting=0, threads=8))


def test_waits_over_the_target_shed_only_once_they_last_the_interval():
    queue = StandingQueue(target=0.5, interval=0.25)

    assert not queue.over(waited=0.9, now=10.0)  # the first wait over: maybe a passing stall
    assert not queue.over(waited=0.7, now=10.125)
    assert not queue.over(waited=None, now=10.2)  # unknown: no change either way
    assert queue.over(waited=0.6, now=10.25)  # over for the whole interval: standing
    assert queue.over(waited=0.6, now=10.5)
    assert not queue.over(waited=0.5, now=10.75)  # one on time: the queue drained
    assert not queue.over(waited=0.6, now=11.0)
    assert queue.over(waited=0.6, now=11.25)


def test_with_an_interval_of_zero_any_wait_over_the_target_sheds():
    queue = StandingQueue(target=0.0, interval=0.0)

    assert queue.over(waited=0.001, now=1.0)
    assert not queue.over(waited=0.0, now=1.0)


@pytest.mark.django_db
def test_the_shed_answer_is_a_503_in_the_error_shape_with_retry_after_and_no_query(client, django_assert_num_queries):
    queue_note(waiting=100, threads=4)

    with django_assert_num_queries(0):
        response = client.post("/api/v1/cart/evaluate", {"lines": []}, content_type="application/json")

    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.ADMISSION_RETRY_AFTER)
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "overloaded",
        "message": "The server is busy; retry in 1 second.",
        "details": {"retry_after": settings.ADMISSION_RETRY_AFTER},
    }


def test_shed_answers_are_reported_in_one_line_per_interval_not_one_each(client, caplog):
    caplog.set_level(logging.INFO)
    for _ in range(3):
        queue_note(waiting=1000, threads=1)
        assert client.get("/api/v1/me").status_code == 503

    assert not [record for record in caplog.records if record.name == "django.request"]
    reports = [record.getMessage() for record in caplog.records if record.name == "lms.admission"]
    assert len(reports) == 1
    assert all(report.startswith("Overloaded: shed") for report in reports)


def test_a_queue_within_the_limit_is_served_as_usual(client):
    queue_note(waiting=4 * settings.ADMISSION_QUEUE_PER_THREAD, threads=4)

    response = client.get("/api/v1/me")

    assert response.status_code == 401  # the view ran: no credentials
    assert response.json()["code"] == "not_authenticated"


def test_a_noted_queue_counts_for_one_request_only(client):
    queue_note(waiting=1000, threads=1)
    assert client.get("/api/v1/me").status_code == 503

    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("probe", ["/healthz", "/readyz"])
def test_the_probes_are_never_shed(client, probe):
    queue_note(waiting=1000, threads=1)

    response = client.get(probe)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_switched_off_nothing_is_shed(settings):
    settings.ADMISSION_ENABLED = False
    queue_note(waiting=1000, threads=1)

    assert Client().get("/api/v1/me").status_code == 401


def test_the_retry_after_setting_is_what_the_answer_says(settings):
    settings.ADMISSION_RETRY_AFTER = 7
    queue_note(waiting=1000, threads=1)

    response = Client().get("/api/v1/me")

    assert response["Retry-After"] == "7"
    assert response.json()["message"] == "The server is busy; retry in 7 seconds."


def test_the_gunicorn_queue_is_the_thread_pools_waiting_work():
    release = threading.Event()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(2 + 5):
            pool.submit(release.wait, 30)
        deadline = time.monotonic() + 10
        while pool._work_queue.qsize() != 5 and time.monotonic() < deadline:
            time.sleep(0.01)  # the two threads take their jobs
        worker = SimpleNamespace(tpool=pool, cfg=SimpleNamespace(threads=2))

        assert gunicorn_queue(worker) == Queue(waiting=5, threads=2, waited=None)
        release.set()


def test_a_worker_without_a_thread_pool_never_reports_a_queue():
    worker = SimpleNamespace(cfg=SimpleNamespace(threads=1))
    gunicorn_stamp(worker)

    assert gunicorn_queue(worker) == Queue(waiting=0, threads=1, waited=None)


def test_a_stamped_pool_tells_each_job_how_long_it_waited_and_keeps_its_result():
    release = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        worker = SimpleNamespace(tpool=pool, cfg=SimpleNamespace(threads=1))
        gunicorn_stamp(worker)
        gunicorn_stamp(worker)  # once per process, however often the hook runs
        pool.submit(release.wait, 30)
        queued = pool.submit(lambda: ("served", gunicorn_queue(worker)))
        release.set()
        answer, queue = queued.result(30)

    assert answer == "served"
    assert queue.waited is not None and queue.waited > 0


def test_a_new_connection_whose_client_has_not_spoken_gets_no_stamp():
    """Its wait could be the client's slowness; once its request is there, it is stamped."""
    server_side, client_side = socket.socketpair()
    with server_side, client_side, ThreadPoolExecutor(max_workers=1) as pool:
        worker = SimpleNamespace(tpool=pool, cfg=SimpleNamespace(threads=1))
        gunicorn_stamp(worker)
        conn = SimpleNamespace(initialized=False, data_ready=False, sock=server_side)

        silent = pool.submit(lambda conn: gunicorn_queue(worker), conn).result(30)
        client_side.sendall(b"GET / HTTP/1.1\r\n\r\n")
        spoken = pool.submit(lambda conn: gunicorn_queue(worker), conn).result(30)

    assert silent.waited is None
    assert spoken.waited is not None


def test_a_connection_on_a_descriptor_past_1024_is_stamped_too():
    """A busy process holds over a thousand sockets, past what select() can watch."""
    server_side, client_side = socket.socketpair()
    high = socket.socket(fileno=os.dup2(server_side.fileno(), 1500))
    with server_side, client_side, high, ThreadPoolExecutor(max_workers=1) as pool:
        worker = SimpleNamespace(tpool=pool, cfg=SimpleNamespace(threads=1))
        gunicorn_stamp(worker)
        client_side.sendall(b"GET / HTTP/1.1\r\n\r\n")
        conn = SimpleNamespace(initialized=False, data_ready=False, sock=high)

        queue = pool.submit(lambda conn: gunicorn_queue(worker), conn).result(30)

    assert queue.waited is not None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ADMISSION_MAX_WAIT_MS", "-1"),
        ("ADMISSION_WAIT_INTERVAL_MS", "-1"),
        ("ADMISSION_QUEUE_PER_THREAD", "-1"),
        ("ADMISSION_RETRY_AFTER", "0"),
    ],
)
def test_settings_out_of_range_refuse_to_start(variable, value):
    env = {**os.environ, variable: value, "DJANGO_SETTINGS_MODULE": "lms.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode != 0
    assert "ADMISSION_QUEUE_PER_THREAD must be >= 0, ADMISSION_RETRY_AFTER >= 1" in result.stderr


# --- A real gunicorn -------------------------------------------------------------------------


def _get(port: int, path: str) -> tuple[int, dict[str, str], dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), json.loads(answer.read() or b"{}")
    finally:
        conn.close()


@pytest.fixture
def gunicorn(django_db_setup, tmp_path):
    """gunicorn.conf.py with one process of two threads that sheds a request that waited over
    300 ms for a thread (the queue-length backstop out of the way), on the test database (for
    /healthz) and the test Redis."""
    port = free_port()
    env = {
        **subprocess_env(),
        "DJANGO_SETTINGS_MODULE": "lms.tests.admission_settings",
        "DATABASE_POOL_MIN_SIZE": "1",
        "DATABASE_POOL_MAX_SIZE": "2",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
        "ADMISSION_MAX_WAIT_MS": "300",
        "ADMISSION_QUEUE_PER_THREAD": "1000",
        "LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "gunicorn.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "lms.wsgi"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(port, "/slow?seconds=0")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"gunicorn did not start:\n{log.read()[-3000:]}")
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.mark.xdist_group("subprocesses")
@pytest.mark.timeout(90)
def test_a_burst_beyond_the_limit_gets_fast_503s_while_the_admitted_requests_succeed(gunicorn):
    burst = 12
    start = threading.Barrier(burst + 1)

    def slow_call() -> tuple[int, dict[str, str], dict]:
        start.wait(30)
        return _get(gunicorn, "/slow?seconds=1")

    with ThreadPoolExecutor(max_workers=burst) as clients:
        calls = [clients.submit(slow_call) for _ in range(burst)]
        start.wait(30)
        time.sleep(0.2)  # the burst is queued: the probe comes in behind it
        probe_status, _, probe_body = _get(gunicorn, "/healthz")
        answers = [call.result() for call in calls]  # a time-out would raise here

    statuses = sorted(status for status, _, _ in answers)
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses and 503 in statuses, statuses
    for status, headers, body in answers:
        if status == 503:
            assert headers["Retry-After"] == "1"
            assert body["code"] == "overloaded"
            assert body["details"] == {"retry_after": 1}
        else:
            assert body == {"ok": True}
    assert (probe_status, probe_body["status"]) == (200, "ok")
