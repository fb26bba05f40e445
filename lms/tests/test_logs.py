"""Structured logs (lms/logs.py) and the request id (lms/request_log.py): taken or made,
echoed on every answer, written on every line, kept by the outbox across a sweep.

Lines are captured through the formatter the settings configure (``lms.logs.formatter``) on a
handler of the root logger, or from a fresh process's stderr where the settings themselves
are under test."""

import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import shared_task, signals
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import OperationalError
from django.test import Client, override_settings
from django.urls import path
from django.utils import timezone

from lms.celery import app
from lms.logs import current_request_id, formatter, request_id_bind, request_id_unbind
from lms.models import OutboxTask
from lms.outbox import outbox_enqueue, outbox_sweep
from lms.tests.test_outbox import LATER, broker  # noqa: F401 - the fixture

REPO_ROOT = Path(settings.BASE_DIR)
HEX32 = r"[0-9a-f]{32}"


def _raises_error(request):
    raise ZeroDivisionError("a bug")


def _database_down(request):
    raise OperationalError("connection refused")


# This module is the URLconf of the tests that need a view that fails.
urlpatterns = [path("boom", _raises_error), path("db-down", _database_down)]
handler500 = "lms.api.exceptions.server_error"

probed: list[dict] = []


@shared_task
def request_id_probe_task() -> None:
    probed.append({"request_id": current_request_id(), "task_id": request_id_probe_task.request.id})


@pytest.fixture
def log_handler():
    """A handler on the root logger with the formatter LOG_FORMAT=json configures."""
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(formatter("json"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


@pytest.fixture
def log_lines(log_handler):
    """The JSON lines written to the root logger during the test, parsed."""
    return lambda: [json.loads(line) for line in log_handler.stream.getvalue().splitlines()]


def _access(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "lms.access"]


# --- The request id ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_sane_incoming_request_id_is_kept_echoed_and_logged(api_client, log_lines):
    response = api_client.get("/api/v1/me", HTTP_X_REQUEST_ID="lb-4f1c.77:a=b+c_d")

    assert response.status_code == 401
    assert response["X-Request-ID"] == "lb-4f1c.77:a=b+c_d"
    [line] = _access(log_lines())
    assert line["request_id"] == "lb-4f1c.77:a=b+c_d"
    assert "request_id_rejected" not in line


@pytest.mark.django_db
def test_a_request_without_an_id_gets_a_fresh_one_each_time(api_client, log_lines):
    first = api_client.get("/api/v1/me")["X-Request-ID"]
    second = api_client.get("/api/v1/me")["X-Request-ID"]

    assert first != second
    for request_id in (first, second):
        assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert [line["request_id"] for line in _access(log_lines())] == [first, second]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad",
    [
        "x" * 129,  # too long
        "abc def",  # a space
        'inject\n{"level": "critical"}',  # a forged log line
        "ids;drop",
        "",  # empty
        "naïve",
    ],
)
def test_a_bad_incoming_request_id_is_replaced_and_never_logged(api_client, log_lines, bad):
    response = api_client.get("/api/v1/me", HTTP_X_REQUEST_ID=bad)

    fresh = response["X-Request-ID"]
    assert fresh != bad and len(fresh) == 32 and int(fresh, 16) >= 0
    lines = log_lines()
    [line] = _access(lines)
    assert line["request_id"] == fresh
    assert line["request_id_rejected"] is True
    if bad:
        assert all(bad not in json.dumps(line) for line in lines)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/no-such-route", 404),  # an unknown API route
        ("/no-such-page", 404),  # outside the API
        ("/admin/", 302),  # the console, signed out
        ("/admin/login/", 200),
        ("/api/schema/", 200),
        ("/favicon.ico", 200),  # a streamed file
    ],
)
def test_every_kind_of_answer_carries_the_request_id(client, url, status):
    response = client.get(url, HTTP_X_REQUEST_ID="probe-1")

    assert response.status_code == status
    assert response["X-Request-ID"] == "probe-1"


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize(("url", "status", "code"), [("/boom", 500, "server_error"), ("/db-down", 503, "unavailable")])
def test_error_answers_carry_the_request_id_and_log_it(log_lines, url, status, code):
    response = Client(raise_request_exception=False).get(url, HTTP_X_REQUEST_ID="err-7")

    assert response.status_code == status
    assert response.json()["code"] == code
    assert response["X-Request-ID"] == "err-7"
    lines = log_lines()
    assert lines, "nothing logged"
    assert {line["request_id"] for line in lines} == {"err-7"}
    [access] = _access(lines)
    assert (access["level"], access["status"]) == ("warning", status)
    if status == 500:
        [error] = [line for line in lines if line["logger"] == "django.request"]
        assert "ZeroDivisionError: a bug" in error["exception"]


@pytest.mark.django_db
def test_the_access_line_has_the_route_the_status_the_duration_and_the_user_id_but_no_email(
    customer, customer_client, log_lines
):
    response = customer_client.get("/api/v1/me?email=asha@example.com")

    assert response.status_code == 200
    [line] = _access(log_lines())
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/me"  # no query string: it may hold personal data
    assert line["route"] == "api/v1/me"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and 0 < line["duration_ms"] < 60_000
    assert line["user_id"] == customer.pk
    assert "asha" not in json.dumps(line)


@pytest.mark.django_db
def test_a_signed_link_token_stays_out_of_the_access_line(client, log_lines):
    client.get("/n/u/secret-signed-token-value")

    [line] = _access(log_lines())
    assert line["path"] == "/n/u/<token>"
    assert line["route"] == "n/u/<str:token>"
    assert "secret-signed-token-value" not in json.dumps(line)


@pytest.mark.django_db
def test_the_console_access_line_has_the_signed_in_user(console, root, log_lines):
    response = console.get("/admin/")

    assert response.status_code == 200
    [line] = _access(log_lines())
    assert line["user_id"] == root.pk


@pytest.mark.django_db
def test_a_signed_in_request_nothing_looked_at_the_user_of_costs_no_query_for_the_log(
    console, log_lines, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = console.get("/no-such-page")

    assert response.status_code == 404
    [line] = _access(log_lines())
    assert line["user_id"] is None  # unknown without a query, not guessed


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=["https://shop.example.com"])
def test_browser_apps_may_send_and_read_the_request_id(api_client):
    preflight = api_client.options(
        "/api/v1/me",
        HTTP_ORIGIN="https://shop.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-request-id",
    )
    answer = api_client.get("/api/v1/me", HTTP_ORIGIN="https://shop.example.com")

    assert "x-request-id" in preflight["Access-Control-Allow-Headers"]
    assert preflight["X-Request-ID"]
    assert "X-Request-ID" in answer["Access-Control-Expose-Headers"]


# --- The lines themselves ---------------------------------------------------------------------


def test_an_application_log_line_is_json_with_the_request_id_and_the_exception_as_a_string(log_lines):
    token = request_id_bind("line-1")
    try:
        try:
            {}["missing"]
        except KeyError:
            logging.getLogger("campaigns.services").exception("evaluating campaign %s failed", 42)
    finally:
        request_id_unbind(token)
    logging.getLogger("lms.outbox").warning("outside any request")

    inside, outside = log_lines()
    assert inside["message"] == "evaluating campaign 42 failed"
    assert (inside["level"], inside["logger"], inside["request_id"]) == ("error", "campaigns.services", "line-1")
    assert inside["timestamp"].endswith("Z")
    assert timezone.datetime.fromisoformat(inside["timestamp"]) <= timezone.now()
    assert isinstance(inside["exception"], str) and "KeyError: 'missing'" in inside["exception"]
    assert "task_id" not in inside
    assert outside["request_id"] is None


def _python(code: str, **env_changes: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("LOG_FORMAT", "LOG_LEVEL")}
    env.update(DJANGO_SETTINGS_MODULE="lms.settings", PYTHONUNBUFFERED="1", **env_changes)
    return subprocess.run(
        [sys.executable, "-c", f"import django\ndjango.setup()\n{code}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


REQUEST_AND_LOG = (
    "import logging\nfrom django.test import Client\n"
    'Client().get("/api/v1/no-such-route", HTTP_X_REQUEST_ID="sub-1")\n'
    'logging.getLogger("celery.worker").info("a %s line", "celery")\n'
)


def test_log_format_json_writes_every_line_django_celery_and_ours_as_json():
    result = _python(REQUEST_AND_LOG, LOG_FORMAT="json")

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    by_logger = {line["logger"]: line for line in lines}
    assert set(by_logger) == {"lms.access", "django.request", "celery.worker"}
    assert by_logger["django.request"]["message"] == "Not Found: /api/v1/no-such-route"
    assert by_logger["django.request"]["request_id"] == "sub-1"
    assert by_logger["lms.access"]["status"] == 404
    assert by_logger["celery.worker"]["message"] == "a celery line"
    for line in lines:
        assert list(line)[:5] == ["timestamp", "level", "logger", "message", "request_id"]


def test_log_format_console_is_readable_text_and_the_default_with_debug_on():
    result = _python(REQUEST_AND_LOG, DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert not result.stderr.lstrip().startswith("{")
    assert "GET /api/v1/no-such-route 404" in result.stderr
    assert "request_id=sub-1" in result.stderr


def test_log_level_filters_lines():
    result = _python(REQUEST_AND_LOG, LOG_FORMAT="json", LOG_LEVEL="warning")

    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["logger"] for line in result.stderr.splitlines()] == ["django.request"]


def test_an_unknown_log_format_refuses_to_start():
    result = _python("", LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT is 'xml': use json or console." in result.stderr


# --- Tasks ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_eager_task_logs_under_the_request_that_ran_it(log_lines):
    probed.clear()
    token = request_id_bind("eager-1")
    try:
        result = request_id_probe_task.delay()
    finally:
        request_id_unbind(token)

    assert probed == [{"request_id": "eager-1", "task_id": result.id}]
    [line] = [line for line in log_lines() if line.get("task_id") == result.id]
    assert line["task_name"] == "lms.tests.test_logs.request_id_probe_task"
    assert line["request_id"] == "eager-1"


@pytest.mark.django_db
def test_the_outbox_keeps_the_request_id_when_the_sweeper_publishes_in_process(django_capture_on_commit_callbacks):
    probed.clear()
    token = request_id_bind("outbox-1")
    try:
        with django_capture_on_commit_callbacks(execute=False):  # the dispatch never ran
            row = outbox_enqueue("lms.tests.test_logs.request_id_probe_task")
    finally:
        request_id_unbind(token)
    assert OutboxTask.objects.get(pk=row.pk).request_id == "outbox-1"

    assert outbox_sweep(now=timezone.now() + LATER) == 1

    assert [probe["request_id"] for probe in probed] == ["outbox-1"]


@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_a_task_the_sweeper_publishes_after_the_broker_came_back_carries_the_request_id(
    broker,  # noqa: F811 - the fixture imported above
    api_client,
    log_handler,
    log_lines,
    mailoutbox,
):
    published: list[dict] = []

    def record(headers=None, **kwargs):
        published.append(dict(headers))

    signals.before_task_publish.connect(record, weak=False)
    broker.stop()
    try:
        response = api_client.post(
            "/api/v1/auth/otp/send", {"email": "asha@example.com"}, format="json", HTTP_X_REQUEST_ID="sweep-1"
        )
        assert response.status_code == 202, response.content
        assert OutboxTask.objects.get().request_id == "sweep-1"
        broker.start()
        with start_worker(app, pool="solo", queues=["otp"], perform_ping_check=False, shutdown_timeout=10):
            # The worker's start ran django.setup() again, which replaced the root's handlers.
            logging.getLogger().addHandler(log_handler)
            assert outbox_sweep(now=timezone.now() + LATER) == 1  # beat's sweep: no request of its own
            deadline = time.monotonic() + 15
            while not mailoutbox and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        signals.before_task_publish.disconnect(record)

    assert published[-1]["request_id"] == "sweep-1"
    task_id = published[-1]["id"]
    assert len(mailoutbox) == 1
    task_lines = [line for line in log_lines() if line.get("task_id") == task_id]
    assert task_lines, "the worker wrote no line for the task"
    assert {(line["request_id"], line["task_name"]) for line in task_lines} == {
        ("sweep-1", "accounts.tasks.otp_email_send_task")
    }
