"""Routing: every notification task runs on the notifications queue, never on otp (OTP and
password mail have that queue to themselves so a bulk send never delays them)."""

import pytest

from lms.celery import app
from notifications import tasks


def _queue(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


@pytest.mark.parametrize(
    "task", [tasks.message_fanout_task, tasks.deliveries_send_task, tasks.deliveries_sweep_task], ids=lambda t: t.name
)
def test_notification_tasks_run_on_the_notifications_queue(task):
    assert _queue(task.name) == "notifications"


def test_auth_mail_keeps_the_otp_queue():
    assert _queue("accounts.tasks.otp_email_send_task") == "otp"
    assert _queue("accounts.tasks.password_reset_email_send_task") == "otp"


def test_the_sweep_runs_every_minute_from_beat():
    [entry] = [e for e in app.conf.beat_schedule.values() if e["task"] == tasks.deliveries_sweep_task.name]
    assert entry["schedule"] == 60.0
