"""OTP mail through a real Celery worker over the Redis broker (not eager)."""

import re
import time

import pytest
from celery.contrib.testing.worker import start_worker
from rest_framework.test import APIClient

from accounts.models import EmailOTP
from lms.celery import app

SIX_DIGITS = re.compile(r"\b(\d{6})\b")
MAIL_WAIT_SECONDS = 15


def otp_queue_size() -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare("otp").message_count


@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_otp_mail_is_routed_to_the_otp_queue_and_sent_by_a_worker(mailoutbox):
    app.conf.task_always_eager = False  # the autouse fixture in conftest.py restores it
    app.control.purge()
    client = APIClient()

    response = client.post("/api/v1/auth/otp/send", {"email": "asha@example.com"}, format="json")

    assert response.status_code == 202, response.json()
    # Not run in-process: the task waits in the "otp" queue for a worker.
    assert mailoutbox == []
    assert otp_queue_size() == 1
    assert EmailOTP.objects.get().sent_at is None

    # The worker consumes only "otp": delivery proves the routing of accounts.tasks.*.
    with start_worker(app, pool="solo", concurrency=1, queues=["otp"], perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + MAIL_WAIT_SECONDS
        while not mailoutbox and time.monotonic() < deadline:
            time.sleep(0.05)

    assert len(mailoutbox) == 1, f"no OTP mail within {MAIL_WAIT_SECONDS} s"
    message = mailoutbox[0]
    assert message.to == ["asha@example.com"]
    code = SIX_DIGITS.search(message.body).group(1)
    assert EmailOTP.objects.get().sent_at is not None
    assert otp_queue_size() == 0

    verified = client.post("/api/v1/auth/otp/verify", {"email": "asha@example.com", "otp": code}, format="json")

    assert verified.status_code == 200, verified.json()
    assert verified.json()["token"]
