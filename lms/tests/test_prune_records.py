"""``manage.py prune_records`` and the nightly beat job (lms/retention.py)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import LoginEvent
from accounts.tests.factories import UserFactory
from lms.celery import app
from lms.heartbeat import beat_heartbeat_at
from lms.retention import pruners
from lms.tasks import outbox_sweep_task

pytestmark = pytest.mark.django_db


def _prune(*args: str) -> list[str]:
    out = StringIO()
    call_command("prune_records", *args, stdout=out)
    return out.getvalue().splitlines()


def test_with_nothing_old_it_deletes_nothing_and_says_so_per_table():
    lines = _prune()

    assert len(lines) == len(list(pruners)) == 6
    assert "accounts.login_events: deleted 0 login events (older than 3660 days)" in lines
    assert "notifications.deliveries: deleted 0 notification deliveries (older than 400 days)" in lines


def test_dry_run_then_run_in_batches_then_run_again(settings):
    settings.RETENTION_LOGIN_EVENTS_DAYS = 10
    user = UserFactory()
    for days in range(11, 16):
        LoginEvent.objects.create(user=user, occurred_at=timezone.now() - timedelta(days=days))

    assert "accounts.login_events: would delete 5 login events (older than 10 days)" in _prune("--dry-run")
    assert LoginEvent.objects.count() == 5
    assert "accounts.login_events: deleted 5 login events (older than 10 days)" in _prune("--batch-size", "2")
    assert "accounts.login_events: deleted 0 login events (older than 10 days)" in _prune()
    assert not LoginEvent.objects.exists()


def test_zero_keeps_forever_and_a_bad_age_stops_everything_before_any_delete(settings):
    settings.RETENTION_LOGIN_EVENTS_DAYS = 0
    LoginEvent.objects.create(user=UserFactory(), occurred_at=timezone.now() - timedelta(days=9000))
    assert "accounts.login_events: deleted 0 login events (kept forever (0 days))" in _prune()

    settings.RETENTION_LOGIN_EVENTS_DAYS = 10
    settings.RETENTION_EVENTS_DAYS = -5
    with pytest.raises(CommandError, match="RETENTION_EVENTS_DAYS must be a whole number of days"):
        _prune()
    assert LoginEvent.objects.count() == 1


def test_the_nightly_job_is_scheduled_and_registered():
    app.loader.import_default_modules()

    assert settings.CELERY_BEAT_SCHEDULE["records-prune"]["task"] == "lms.tasks.records_prune_task"
    assert "lms.tasks.records_prune_task" in app.tasks
    assert "auth-records-prune" not in settings.CELERY_BEAT_SCHEDULE  # folded into records-prune


def test_an_age_shorter_than_the_segment_windows_warns(settings):
    settings.RETENTION_EVENTS_DAYS = 365

    warnings = [m for m in run_checks() if m.id == "segments.W001"]

    assert len(warnings) == 1 and "RETENTION_EVENTS_DAYS=365" in warnings[0].msg


def test_the_every_minute_outbox_sweep_stamps_the_beat_heartbeat():
    assert beat_heartbeat_at() is None

    outbox_sweep_task.delay()

    assert timezone.now() - beat_heartbeat_at() < timedelta(seconds=10)
