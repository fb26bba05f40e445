"""Notification fan-out benchmark: one marketing message to N customers on IN_APP + EMAIL,
sent by real Celery workers on Redis, beside floors measured in the same run.

    .venv/bin/python bench/notifications_fanout.py [--customers 100000] [--batch 1000]
                                                   [--concurrency 2] [--noop 5000]

``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/lms_notifications_bench``; the
name must contain "bench": the script truncates the users and notification tables),
``REDIS_URL`` (default ``redis://127.0.0.1:6379/13``, the noop counter) and
``CELERY_BROKER_URL`` (default ``redis://127.0.0.1:6379/14``; purged). Mail goes to Django's
file backend in a temporary folder (as the locmem backend would, but visible across
processes). Two workers run as in production: ``-Q notifications -c CONCURRENCY`` and
``-Q otp -c 1``.

It measures:

  plain insert    the same delivery rows (in-app SENT + email PENDING) with bulk_create in
                  batches, one transaction each: the floor of writing rows
  noop tasks      --noop no-op tasks through the notifications worker: the floor of a task
  enqueue         message_send returning (message + outbox row committed, fan-out published)
  fan-out         until every delivery row is written (in-app rows are the send)
  email sends     until every email delivery is SENT, and deliveries/s
  otp latency     an OTP requested when a fifth of the recipients are written, until its mail
                  is in the mail folder (the otp queue never waits behind the bulk send)
  peak RSS        of each worker process (VmHWM), the audience is streamed, never loaded whole

Aims (issue 12): enqueue <= 10 s; in-app rows >= 25 % of the plain insert rate; OTP mail
within 2 s; worker peak RSS < 256 MB.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, configure_environment, django_ready, machine_line  # noqa: E402

OTP_ADDRESS = "bench-otp@example.com"


def _rss_sampler(pids: list[int], peaks: dict[int, int], stop: threading.Event) -> None:
    def children(pid: int) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                            found.append(int(entry))
                except (OSError, ValueError, IndexError):
                    pass
        return found

    while not stop.is_set():
        for root in pids:
            for pid in [root, *children(root)]:
                try:
                    with open(f"/proc/{pid}/status") as status:
                        for line in status:
                            if line.startswith("VmHWM:"):
                                peaks[pid] = max(peaks.get(pid, 0), int(line.split()[1]))
                except OSError:
                    pass
        stop.wait(0.5)


def _worker(queues: str, concurrency: int, log) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "lms", "worker", "-Q", queues, "-c", str(concurrency)]
    command += ["--include", "bench.celery_noop", "--without-mingle", "--without-gossip", "-l", "warning"]
    command += ["-n", f"{queues}@bench"]
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(condition, seconds: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            sys.exit(f"gave up: {what} after {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="NOTIFICATIONS_FANOUT_BATCH")
    parser.add_argument("--concurrency", type=int, default=2, help="processes of the notifications worker")
    parser.add_argument("--noop", type=int, default=5000, help="no-op tasks for the task-rate floor")
    args = parser.parse_args()

    mail_dir = tempfile.mkdtemp(prefix="lms-bench-mail-")
    url = configure_environment(
        "postgres://postgres@127.0.0.1:5432/lms_notifications_bench",
        REDIS_URL="redis://127.0.0.1:6379/13",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/14",
        CELERY_TASK_ALWAYS_EAGER="false",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=mail_dir,
        NOTIFICATIONS_FANOUT_BATCH=str(args.batch),
        NOTIFICATIONS_DAILY_CAP="0",
        NOTIFICATIONS_QUIET_HOURS="",
    )
    name = django_ready(url)

    import redis
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Role, User
    from accounts.services import otp_send
    from bench.celery_noop import COUNTER, noop
    from lms.celery import app
    from notifications.content import Content
    from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus
    from notifications.services.messages import message_send

    print(machine_line(name))
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notifications_delivery, notifications_message, lms_outboxtask, accounts_user CASCADE")
    app.control.purge()

    started = time.monotonic()
    for first in range(0, args.customers, 10_000):
        User.objects.bulk_create(
            User(email=f"b{i}@example.com", first_name=f"B{i}", role=Role.USER, password="!", marketing_email=True)
            for i in range(first, min(first + 10_000, args.customers))
        )
    ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
    print(f"seeded {len(ids):,} customers in {time.monotonic() - started:.1f} s")

    # Floor 1: the same rows, written plainly.
    floor = Message.objects.create(key="bench:floor", source_type="bench", channels=["IN_APP", "EMAIL"])
    started = time.monotonic()
    for first in range(0, len(ids), args.batch):
        now = timezone.now()
        rows = []
        for pk in ids[first : first + args.batch]:
            rows.append(Delivery(message=floor, recipient_id=pk, channel=Channel.IN_APP, title="Hi", body="Sale",
                                 status=DeliveryStatus.SENT, sent_at=now, context={"first_name": "B"}))  # fmt: skip
            rows.append(Delivery(message=floor, recipient_id=pk, channel=Channel.EMAIL, context={"first_name": "B"}))
        with transaction.atomic():
            Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    plain_s = time.monotonic() - started
    plain_rate = 2 * len(ids) / plain_s
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notifications_delivery, notifications_message CASCADE")

    log = open(Path(mail_dir) / "workers.log", "w+")  # noqa: SIM115 - closed at the end
    workers = [_worker("notifications", args.concurrency, log), _worker("otp", 1, log)]
    peaks: dict[int, int] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_rss_sampler, args=([w.pid for w in workers], peaks, stop), daemon=True)
    sampler.start()
    try:
        _wait(lambda: len(app.control.ping(timeout=0.5) or []) >= 2, 60, "the workers did not answer")

        # Floor 2: no-op tasks through the notifications worker.
        counter = redis.Redis.from_url(settings.REDIS_URL)
        counter.set(COUNTER, 0)
        started = time.monotonic()
        for _ in range(args.noop):
            noop.apply_async(queue="notifications")
        _wait(lambda: int(counter.get(COUNTER) or 0) >= args.noop, 600, "the no-op tasks did not finish")
        noop_rate = args.noop / (time.monotonic() - started)

        # The send.
        content = Content(title="Hi {{ first_name }}", body="Our sale starts today, {{ first_name }}.",
                          image_url="https://cdn.example.com/banner.png", cta_text="Shop",
                          cta_url="https://shop.example.com/sale")  # fmt: skip
        started = time.monotonic()
        message = message_send(
            key="bench:send", source_type="promotion", content=content, channels=[Channel.IN_APP, Channel.EMAIL],
            audience={"kind": "all"},  # every active customer, walked in id order a batch at a time
        )  # fmt: skip
        enqueue_s = time.monotonic() - started

        def written() -> int:
            return Message.objects.filter(pk=message.pk).values_list("recipients", flat=True)[0]

        _wait(lambda: written() >= len(ids) // 5, 600, "a fifth of the recipients were not written")
        seen = set(os.listdir(mail_dir))
        otp_started = time.monotonic()
        otp_send(email=OTP_ADDRESS)

        def otp_arrived() -> bool:
            for entry in set(os.listdir(mail_dir)) - seen:
                try:
                    if OTP_ADDRESS in (Path(mail_dir) / entry).read_text(errors="replace"):
                        return True
                except OSError:
                    pass
            return False

        otp_s = _wait(otp_arrived, 60, "the OTP mail did not arrive")
        assert time.monotonic() - otp_started >= otp_s
        _wait(lambda: Message.objects.filter(pk=message.pk, status=MessageStatus.DONE).exists(), 3600, "fan-out")
        fanout_s = time.monotonic() - started
        email = Delivery.objects.filter(message=message, channel=Channel.EMAIL)
        _wait(lambda: not email.filter(status__in=["PENDING", "SENDING"]).exists(), 3600, "the email sends")
        sends_s = time.monotonic() - started
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        stop.set()
        log.close()

    sent = email.filter(status=DeliveryStatus.SENT).count()
    in_app = Delivery.objects.filter(message=message, channel=Channel.IN_APP, status=DeliveryStatus.SENT).count()
    fanout_rate = 2 * len(ids) / fanout_s
    print(f"plain insert      {2 * len(ids):>9,} rows  {plain_s:7.1f} s  {plain_rate:9,.0f} rows/s")
    print(f"noop tasks        {args.noop:>9,} tasks {args.noop / noop_rate:7.1f} s  {noop_rate:9,.0f} tasks/s")
    print(f"enqueue           {'':>15} {enqueue_s:7.3f} s  (aim <= 10 s)")
    print(
        f"fan-out           {2 * len(ids):>9,} rows  {fanout_s:7.1f} s  {fanout_rate:9,.0f} rows/s  "
        f"{fanout_rate / plain_rate:.0%} of the plain insert (aim >= 25 %); {in_app:,} in-app rows SENT"
    )
    print(f"email sends       {sent:>9,} sent  {sends_s:7.1f} s  {sent / sends_s:9,.0f} deliveries/s (from the send)")
    print(f"otp mail          {'':>15} {otp_s:7.2f} s  mid fan-out (aim <= 2 s)")
    peak_mb = {pid: kb / 1024 for pid, kb in peaks.items()}
    print(f"worker peak RSS   {max(peak_mb.values()):.0f} MB (largest of {len(peak_mb)} processes; aim < 256 MB)")
    shutil.rmtree(mail_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
