"""A request's id reaches a real Celery worker: a request enqueues a task through the outbox,
a prefork worker (its own process, LOG_FORMAT=json) runs it, and the worker's log lines for
that task carry the request id, the task id and the task name. A task no request started
(as beat's are) logs a null request id but its task id."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import signals
from django.conf import settings

from lms.celery import app
from lms.tests.processes import subprocess_env

pytestmark = pytest.mark.xdist_group("subprocesses")

BASE_DIR = Path(settings.BASE_DIR)
WAIT_SECONDS = 30


def _worker(log) -> subprocess.Popen:
    env = subprocess_env(LOG_FORMAT="json", LOG_LEVEL="INFO")
    command = [sys.executable, "-m", "celery", "-A", "lms", "worker", "-Q", "otp,default", "-P", "prefork", "-c", "1"]
    command += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    return subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _lines(log) -> list[dict]:
    log.seek(0)
    # Only the worker's banner (printed before logging starts) is not JSON.
    return [json.loads(line) for line in log.read().splitlines() if line.startswith("{")]


def _succeeded(log, task_id: str) -> dict | None:
    return next(
        (line for line in _lines(log) if line.get("task_id") == task_id and "succeeded" in line["message"]), None
    )


@pytest.mark.timeout(90)
@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_a_task_under_the_request_that_enqueued_it(api_client, tmp_path):
    published: dict[str, dict] = {}

    def record(sender=None, headers=None, **kwargs):
        published[sender] = dict(headers)

    app.conf.task_always_eager = False  # conftest.py's autouse fixture restores it
    app.control.purge()
    signals.before_task_publish.connect(record, weak=False)
    log = (tmp_path / "worker.log").open("w+")
    worker = _worker(log)
    try:
        response = api_client.post(
            "/api/v1/auth/otp/send", {"email": "asha@example.com"}, format="json", HTTP_X_REQUEST_ID="web-req-42"
        )
        assert response.status_code == 202, response.content
        assert response["X-Request-ID"] == "web-req-42"
        from lms.tasks import outbox_sweep_task

        outbox_sweep_task.delay()  # as beat sends it: outside any request
        otp_id = published["accounts.tasks.otp_email_send_task"]["id"]
        sweep_id = published["lms.tasks.outbox_sweep_task"]["id"]

        deadline = time.monotonic() + WAIT_SECONDS
        while not (_succeeded(log, otp_id) and _succeeded(log, sweep_id)):
            if time.monotonic() > deadline or worker.poll() is not None:
                log.seek(0)
                pytest.fail(f"the worker did not log both tasks; its log:\n{log.read()[-3000:]}")
            time.sleep(0.2)
    finally:
        signals.before_task_publish.disconnect(record)
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=5)
        app.control.purge()

    assert published["accounts.tasks.otp_email_send_task"]["request_id"] == "web-req-42"
    otp_line = _succeeded(log, otp_id)
    assert otp_line["request_id"] == "web-req-42"
    assert otp_line["task_name"] == "accounts.tasks.otp_email_send_task"
    assert otp_line["logger"] == "celery.app.trace"
    assert otp_line["timestamp"].endswith("Z") and otp_line["level"] == "info"
    sweep_line = _succeeded(log, sweep_id)
    assert sweep_line["request_id"] is None
    assert sweep_line["task_name"] == "lms.tasks.outbox_sweep_task"
    # The worker's own lines (not Celery's formats) are JSON too: it did not hijack the root logger.
    assert any(line["logger"].startswith("celery.worker") for line in _lines(log))
    log.close()


@pytest.mark.timeout(60)
def test_gunicorns_own_lines_are_json_like_the_applications(tmp_path):
    """The master's and the workers' lifecycle lines (gunicorn's loggers) come out in the same
    JSON as the access line, so one log pipeline reads the whole web process."""
    from lms.testing import free_port
    from lms.tests.processes import Client, web_server

    port = free_port()
    server = web_server("web", port, subprocess_env(LOG_FORMAT="json", LOG_LEVEL="INFO"), tmp_path / "web.log")
    try:
        client = Client(port)
        deadline = time.monotonic() + 30
        while not client.answers() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.call("GET", "/healthz", headers={"X-Request-ID": "probe-1"}).status == 200
    finally:
        server.stop()
    lines = [line for line in server.log_path.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line, gunicorn's included, is one JSON object
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in parsed)
    assert any(line["logger"] == "lms.access" and line["request_id"] == "probe-1" for line in parsed)
