"""THE KILL TEST: a real Celery worker on Redis, SIGKILLed in the middle of a send to 2,000
customers and replaced, leaves every delivery SENT exactly once in the database; the only
mail the SMTP receiver gets twice is mail that was in flight when the worker died, and it
carries the same Message-ID both times."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import Role, User
from lms.celery import app
from notifications.content import Content
from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus
from notifications.services.dispatch import deliveries_sweep
from notifications.services.messages import message_send
from notifications.tests.servers import SmtpReceiver

# Under pytest-xdist these tests run on one worker, one after another (make test: --dist
# loadgroup): each starts several processes (a prefork Celery worker, runserver and
# manage.py), and the kill test's waits should not also compete with the other's.
pytestmark = pytest.mark.xdist_group("subprocesses")

BASE_DIR = Path(settings.BASE_DIR)
CUSTOMERS = 2000
FANOUT_BATCH = 100
SEND_CHUNK = 10
CONCURRENCY = 2
KILL_AFTER = 600  # mails at the receiver when the worker is killed


def _worker(smtp_port: int, log) -> subprocess.Popen:
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "NOTIFICATIONS_FANOUT_BATCH": str(FANOUT_BATCH),
        "NOTIFICATIONS_SEND_CHUNK": str(SEND_CHUNK),
        "NOTIFICATIONS_DAILY_CAP": "0",
        "NOTIFICATIONS_QUIET_HOURS": "",
    }
    command = [sys.executable, "-m", "celery", "-A", "lms", "worker", "-Q", "notifications", "-P", "prefork"]
    command += ["-c", str(CONCURRENCY), "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "warning"]
    # Its own process group: the kill takes the pool's children with it, as a machine dying would.
    return subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait(condition, seconds: float, what: str, log) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            log.seek(0)
            pytest.fail(f"{what} within {seconds} s; worker log:\n{log.read()[-3000:]}")
        time.sleep(0.1)


@pytest.mark.timeout(120)
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_and_replaced_leaves_every_row_sent_once(tmp_path):
    receiver = SmtpReceiver().start()
    log = (tmp_path / "worker.log").open("w+")
    User.objects.bulk_create(
        User(email=f"k{i}@example.com", first_name=f"K{i}", role=Role.USER, password="!", marketing_email=True)
        for i in range(CUSTOMERS)
    )
    ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
    app.conf.task_always_eager = False  # conftest.py's autouse fixture restores it
    app.control.purge()
    worker = _worker(receiver.port, log)
    try:
        message_send(
            key="kill:1", source_type="promotion",
            content=Content(title="Hi {{ first_name }}", body="Sale", cta_text="Go", cta_url="https://shop.example.com/"),
            channels=[Channel.EMAIL, Channel.IN_APP], audience={"kind": "customers", "ids": ids},
        )  # fmt: skip
        _wait(lambda: receiver.count() >= KILL_AFTER, 60, f"{KILL_AFTER} mails did not arrive", log)

        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        in_flight = set(Delivery.objects.filter(status=DeliveryStatus.SENDING).values_list("provider_message_id", "pk"))
        at_kill = receiver.count()

        # Beat's sweep, a lease later: the dead worker's claimed rows, its lost tasks and (if it
        # died during the fan-out) the fan-out itself are dispatched again.
        later = timezone.now() + timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS + 1)
        swept = deliveries_sweep(now=later)
        worker = _worker(receiver.port, log)

        def done() -> bool:
            return (
                Message.objects.filter(status=MessageStatus.DONE).exists()
                and not Delivery.objects.exclude(status=DeliveryStatus.SENT).exists()
            )

        _wait(done, 60, "the deliveries were not all sent", log)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        receiver.stop()
        log.close()
        app.control.purge()

    rows = Delivery.objects.filter(channel=Channel.EMAIL)
    assert rows.count() == CUSTOMERS
    assert Delivery.objects.filter(channel=Channel.IN_APP, status=DeliveryStatus.SENT).count() == CUSTOMERS
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    sent_ids = dict(rows.values_list("provider_message_id", "pk"))
    received = Counter(mail["Message-ID"] for mail in receiver.messages)
    assert set(received) == set(sent_ids), "every row's mail arrived, and nothing else"
    duplicates = {message_id: n for message_id, n in received.items() if n > 1}
    # Only mail in flight when the worker died arrives twice: rows it had claimed (SENDING),
    # at most a chunk per pool process, each re-sent once under the same Message-ID.
    in_flight_pks = {pk for _, pk in in_flight}
    assert all(sent_ids[message_id] in in_flight_pks for message_id in duplicates), (duplicates, in_flight)
    assert all(n == 2 for n in duplicates.values())
    assert len(in_flight_pks) <= SEND_CHUNK * CONCURRENCY
    print(
        f"\nkill test: {at_kill} mails before the kill, {len(in_flight_pks)} rows in flight, "
        f"sweep {swept}, {sum(received.values())} mails received for {CUSTOMERS} rows, "
        f"{len(duplicates)} duplicate(s) (same Message-ID)"
    )
