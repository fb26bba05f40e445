"""``manage.py doctor``: each check made to fail for real, and the FAIL line and exit code seen."""

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from lms.celery import app
from lms.heartbeat import beat_heartbeat_record
from lms.models import OutboxTask

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _production_settings(settings):
    # pytest-django runs with DEBUG off, where the development key is a FAIL of its own.
    settings.SECRET_KEY = "a-production-secret-key-" + "x" * 40
    settings.ALLOWED_HOSTS = ["lms.example.com"]


def _doctor(*args: str) -> tuple[list[str], bool]:
    """The output lines, and whether it exited non-zero."""
    out = StringIO()
    try:
        call_command("doctor", *args, stdout=out)
        failed = False
    except CommandError as exc:
        assert exc.returncode == 1
        failed = True
    return out.getvalue().splitlines(), failed


def _fails(lines: list[str], check: str) -> list[str]:
    return [line for line in lines if line.split()[:2] == ["FAIL", check]]


@pytest.mark.django_db
def test_an_unapplied_migration_is_listed():
    latest = (
        connection.cursor().execute("SELECT name FROM django_migrations WHERE app = 'lms' ORDER BY id DESC").fetchone()
    )
    # Forgetting the record is what a database one migration behind looks like to Django
    # (the test's transaction puts it back).
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'lms' AND name = %s", [latest[0]])

    lines, failed = _doctor()

    assert failed
    assert _fails(lines, "migrations") == [f"FAIL  migrations  1 unapplied: lms.{latest[0]} -> run manage.py migrate"]


@pytest.mark.django_db
def test_an_old_outbox_row_and_one_that_keeps_failing_are_reported():
    now = timezone.now()
    OutboxTask.objects.create(task="lms.tasks.outbox_sweep_task", created_at=now - timedelta(minutes=30))
    OutboxTask.objects.create(task="segments.tasks.segments_refresh_all_task", attempts=7)

    lines, failed = _doctor()

    assert failed
    outbox = _fails(lines, "outbox")
    assert outbox[0].startswith("FAIL  outbox      2 tasks waiting, the oldest for 30 min")
    assert "1 tasks failed 5+ publish attempts (segments.tasks.segments_refresh_all_task)" in outbox[1]


@pytest.mark.django_db
def test_a_beat_entry_naming_no_task_and_a_bad_retention_age_fail(settings):
    settings.CELERY_BEAT_SCHEDULE = {
        **settings.CELERY_BEAT_SCHEDULE,
        "typo": {"task": "lms.tasks.outbox_swep_task", "schedule": 60.0},
    }
    settings.RETENTION_DELIVERIES_DAYS = 1

    lines, failed = _doctor()

    assert failed
    assert "schedule entries name no registered task: typo (lms.tasks.outbox_swep_task)" in _fails(lines, "beat")[0]
    assert "RETENTION_DELIVERIES_DAYS=1 is below its minimum of 2 days" in _fails(lines, "settings")[0]


@pytest.mark.django_db
def test_the_development_settings_warn_without_failing(settings):
    settings.DEBUG = True
    settings.SECRET_KEY = settings.DEV_SECRET_KEY
    settings.ALLOWED_HOSTS = ["*"]

    lines, failed = _doctor()

    assert not failed  # eager Celery, DEBUG on: nothing that stops a development run
    assert "WARN  settings    DEBUG is on -> set DEBUG=false in production (development only)" in lines
    assert "WARN  settings    SECRET_KEY is the public development key -> set SECRET_KEY" in lines
    assert any(line.startswith("WARN  settings    check --deploy: ") for line in lines)
    assert "OK    services    database reachable" in lines


@pytest.mark.django_db(transaction=True)
def test_a_queue_without_a_worker_and_a_stale_beat_fail_and_all_consumed_passes():
    app.conf.task_always_eager = False  # conftest.py's autouse fixture restores it
    beat_heartbeat_record(now=timezone.now() - timedelta(minutes=12))
    with start_worker(app, pool="solo", queues=["otp", "default"], perform_ping_check=False, shutdown_timeout=5):
        lines, failed = _doctor("--timeout", "2")
        assert failed
        assert _fails(lines, "workers") == [
            "FAIL  workers     queue notifications: no worker answered within 2 s "
            "-> start one: celery -A lms worker -Q notifications"
        ]
        assert any(line.startswith("OK    workers     queue otp: ") for line in lines)
        assert _fails(lines, "beat") == [
            "FAIL  beat        last heartbeat 12 min ago -> beat or the default-queue worker stopped: restart it"
        ]

    beat_heartbeat_record()
    with start_worker(app, pool="solo", queues=["otp", "notifications", "default"], perform_ping_check=False):
        out = StringIO()
        call_command("doctor", "--json", "--timeout", "2", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] is True
    assert {f["message"].split(":")[0] for f in report["findings"] if f["check"] == "workers"} == {
        "queue otp",
        "queue notifications",
        "queue default",
    }


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.xdist_group("subprocesses")
def test_unreachable_database_cache_and_broker_each_fail_in_one_line():
    port = _closed_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/lms",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/1",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "doctor"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 1, done.stderr
    services = _fails(done.stdout.splitlines(), "services")
    assert [line.split()[2] for line in services] == ["database", "cache", "broker"]
    assert "could not check" in _fails(done.stdout.splitlines(), "migrations")[0]
    assert "Traceback" not in done.stderr
    # Above it at most the cache layer's one warning that it answers misses while Redis is away.
    assert (
        done.stderr.strip().splitlines()[-1] == "CommandError: 7 checks failed (the FAIL lines above say what to fix)."
    )
