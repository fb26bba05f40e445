"""The transactional outbox (lms/outbox.py): a committed write never depends on the broker."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from lms.celery import app
from lms.models import OutboxTask
from lms.outbox import outbox_enqueue, outbox_sweep
from lms.testing import run_concurrently
from lms.tests.proxy import SilentServer, TcpProxy
from segments.models import Segment
from segments.tests.factories import CustomerFactory

WORKER_WAIT_SECONDS = 15
LATER = timedelta(hours=2)  # past the sweeper's grace and any backoff
SEGMENT = {
    "name": "Pune shoppers",
    "kind": "USER",
    "type": "DYNAMIC",
    "criteria": {"all": [{"field": "city", "op": "eq", "value": "Pune"}]},
}


def _broker_use(url: str | None) -> None:
    """Point the app's producers (and any worker started later) at ``url``; ``None``: back to
    the configured broker. (Celery prefers a CELERY_BROKER_URL variable to ``broker_url``.)"""
    app.conf.broker_write_url = app.conf.broker_read_url = url
    app.amqp._producer_pool = None
    app._pool = None


@pytest.fixture
def broker():
    """The test broker behind a proxy this test can stop and start; tasks go to the broker."""
    host, port = settings.CELERY_BROKER_URL.split("//", 1)[1].split("/", 1)[0].split(":")
    proxy = TcpProxy(host, int(port)).start()
    _broker_use(proxy.url_for(settings.CELERY_BROKER_URL))
    app.conf.task_always_eager = False  # conftest.py's autouse fixture restores it
    app.control.purge()
    yield proxy
    proxy.stop()
    _broker_use(None)


def queue_size(name: str) -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(name).message_count


@pytest.mark.django_db
def test_an_enqueued_task_runs_on_commit_and_leaves_no_row(admin_client, django_capture_on_commit_callbacks):
    CustomerFactory(city="Pune")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/api/v1/segments/", SEGMENT, format="json")

    assert response.status_code == 201, response.content
    assert Segment.objects.get().status == Segment.Status.READY
    assert not OutboxTask.objects.exists()


@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_writes_answer_their_own_status_with_the_broker_down_and_their_tasks_run_once_it_is_back(
    broker, admin_client, mailoutbox
):
    CustomerFactory(city="Pune")
    broker.stop()

    started = time.monotonic()
    created = admin_client.post("/api/v1/segments/", SEGMENT, format="json")
    otp = admin_client.post("/api/v1/auth/otp/send", {"email": "asha@example.com"}, format="json")
    elapsed = time.monotonic() - started

    assert created.status_code == 201, created.content
    assert otp.status_code == 202, otp.content
    assert elapsed < 4, f"two writes took {elapsed:.1f} s with the broker down"
    rows = list(OutboxTask.objects.order_by("pk"))
    assert [row.task for row in rows] == ["segments.tasks.segment_refresh_task", "accounts.tasks.otp_email_send_task"]
    assert all(row.attempts == 1 and row.last_error and row.available_at > timezone.now() for row in rows)
    assert outbox_sweep(now=timezone.now() + LATER) == 0  # still down: kept, counted again
    assert OutboxTask.objects.get(pk=rows[0].pk).attempts == 2

    broker.start()
    assert outbox_sweep(now=timezone.now() + LATER) == 2

    assert not OutboxTask.objects.exists()  # no plaintext OTP code left behind
    with start_worker(app, pool="solo", queues=["otp", "default"], perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + WORKER_WAIT_SECONDS
        while time.monotonic() < deadline and not (
            mailoutbox and Segment.objects.filter(status=Segment.Status.READY).exists()
        ):
            time.sleep(0.05)
    assert [message.to for message in mailoutbox] == [["asha@example.com"]]
    segment = Segment.objects.get()
    assert (segment.status, segment.member_count) == (Segment.Status.READY, 1)


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_never_answers_holds_a_write_for_seconds_at_most(broker, admin_client):
    silent = SilentServer()
    _broker_use(f"redis://127.0.0.1:{silent.port}/0")
    try:
        started = time.monotonic()
        response = admin_client.post("/api/v1/segments/", SEGMENT, format="json")
        elapsed = time.monotonic() - started
    finally:
        silent.stop()

    assert response.status_code == 201, response.content
    assert elapsed < 4, f"the write took {elapsed:.1f} s"
    assert OutboxTask.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_row_that_keeps_failing_is_retried_at_most_hourly(broker):
    broker.stop()
    row = outbox_enqueue("segments.tasks.segment_refresh_task", 1)
    OutboxTask.objects.filter(pk=row.pk).update(attempts=500)
    assert outbox_sweep(now=timezone.now() + LATER) == 0

    row.refresh_from_db()
    assert row.attempts == 501
    later = row.available_at - timezone.now()
    assert timedelta(minutes=59) < later <= timedelta(hours=1)


def test_enqueueing_a_task_that_does_not_exist_fails_the_write():
    with pytest.raises(ImportError):
        outbox_enqueue("segments.tasks.no_such_task", 1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweepers_publish_each_row_once(broker):
    broker.stop()
    rows = [outbox_enqueue("segments.tasks.segment_refresh_task", n) for n in range(40)]
    broker.start()
    assert OutboxTask.objects.count() == 40

    sent = run_concurrently(4, lambda _: outbox_sweep(now=timezone.now() + LATER))

    assert sum(sent) == len(rows)
    assert not OutboxTask.objects.exists()
    assert queue_size("default") == len(rows)
    app.control.purge()
