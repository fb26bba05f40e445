"""Notification fan-out benchmark: one message to N customers on IN_APP + EMAIL through a real worker.

    REDIS_URL=redis://127.0.0.1:6379/5 CELERY_BROKER_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/notifications_fanout.py [--customers 100000] [--batch 1000] [--concurrency 2]

DATABASE_URL names a PostgreSQL database the script owns (default
postgres://postgres@127.0.0.1:5432/lms_notifybench; its name must contain "bench": the script
truncates the users and the notifications tables). CELERY_BROKER_URL must be a Redis the
script may purge (default: REDIS_URL with db 6). It seeds N customers who consented to
marketing mail, starts a real Celery worker (``celery -A lms worker -Q
otp,notifications,default --concurrency C``, prefork, mail to the file backend in a
temporary directory), then measures, in this order:

  floor: no-op tasks   2,000 ``celery.accumulate`` tasks (a built-in that does nothing) published
                       to the notifications queue and drained by the same worker: tasks/s
  floor: plain insert  the in-app rows the fan-out writes (rendered title and body), inserted
                       with psycopg executemany in batches of --batch, then deleted, untimed
  the send             ``message_send`` to every customer on IN_APP + EMAIL, committed; timed
                       until every delivery row is written (enqueue: the fan-out is done) and
                       until every email delivery is SENT; mid fan-out, an OTP is requested
                       (``otp_send``) and the time until its mail is in the mailbox is taken

It prints the figures beside the floors and the worker's peak RSS (VmHWM of the worker and
its pool processes), and checks the result: every customer has exactly one SENT row per
channel and the mailbox holds N + 1 mails. Aims (issue 12): enqueue <= 10 s; in-app rows
>= 25 % of the plain insert; the OTP within 2 s; the worker's peak RSS < 256 MB.
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

from common import ROOT, configure_environment, django_ready, machine_line

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/lms_notifybench"
NOOP_TASKS = 2_000
AIMS = {"enqueue_s": 10.0, "in_app_vs_plain": 0.25, "otp_s": 2.0, "rss_mb": 256}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000, help="Recipients (default %(default)s).")
    parser.add_argument("--batch", type=int, default=1_000, help="Fan-out batch (default %(default)s).")
    parser.add_argument("--concurrency", type=int, default=2, help="Worker processes (default %(default)s).")
    parser.add_argument("--timeout", type=float, default=900, help="Give up after this many seconds.")
    return parser.parse_args()


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_user, notifications_message, lms_outboxtask RESTART IDENTITY CASCADE")


def seed_customers(count: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_user (email, first_name, last_name, role, phone, country, state, city,
                marketing_email, marketing_sms, marketing_push, is_active, is_staff, is_superuser, password,
                date_joined, updated_at, token_version)
            SELECT 'c' || g || '@bench.example', 'Name' || g, '', 'USER', '', 'IN', '', '',
                true, false, false, true, false, false, '!', now(), now(), 0
            FROM generate_series(1, %s) AS g
            """,
            [count],
        )


def worker_start(env: dict[str, str], concurrency: int) -> subprocess.Popen:
    command = [
        str(ROOT / ".venv/bin/celery"), "-A", "lms", "worker", "-Q", "otp,notifications,default",
        "--concurrency", str(concurrency), "--pool", "prefork", "-l", "warning", "--without-heartbeat",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    from lms.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return process
    process.kill()
    sys.exit("the worker did not answer a ping within 60 s")


def peak_rss_mb(pid: int) -> float:
    """The largest VmHWM among the worker and its pool processes, in MB."""
    peaks = []
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid, *(int(c) for c in children.read_text().split())] if children.exists() else [pid]
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except FileNotFoundError:
            continue
    return max(peaks, default=0.0)


def queue_length(name: str) -> int:
    from lms.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen(name)


def floor_noop(count: int) -> float:
    from lms.celery import app

    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task("celery.accumulate", args=(1,), queue="notifications", producer=producer)
    while queue_length("notifications"):
        time.sleep(0.01)
    return count / (time.perf_counter() - started)


def floor_plain_insert(url: str, count: int, batch: int) -> float:
    import psycopg
    from psycopg.types.json import Jsonb

    from notifications.content import render

    with psycopg.connect(url) as conn:
        message_id = conn.execute(
            "INSERT INTO notifications_message (key, source_type, source_id, purpose, title, body, image_url, cta_text,"
            " cta_url, channels, audience, context, status, cursor, recipients, created_at) VALUES ('bench-plain',"
            " 'bench', '', 'MARKETING', 't', 'b', '', '', '', '[]', '{}', '{}', 'DONE', 0, 0, now()) RETURNING id"
        ).fetchone()[0]
        users = conn.execute("SELECT id, first_name, last_name, email FROM accounts_user ORDER BY id").fetchall()[
            :count
        ]
        rows = [
            (message_id, pk, Jsonb({"first_name": first, "last_name": last, "email": email}),
             render("Hello {{ first_name }}", {"first_name": first})[:255],
             render("A sale for you, {{ first_name }}.", {"first_name": first}))
            for pk, first, last, email in users
        ]  # fmt: skip
        conn.commit()
        started = time.perf_counter()
        for start in range(0, len(rows), batch):
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO notifications_delivery (message_id, recipient_id, channel, status, reason, context,"
                    " address, title, body, attempts, last_error, provider_message_id, available_at, created_at,"
                    " sent_at) VALUES (%s, %s, 'IN_APP', 'SENT', '', %s, '', %s, %s, 0, '', '', now(), now(), now())",
                    rows[start : start + batch],
                )
        elapsed = time.perf_counter() - started
        conn.execute("DELETE FROM notifications_delivery WHERE message_id = %s", [message_id])
        conn.execute("DELETE FROM notifications_message WHERE id = %s", [message_id])
        conn.commit()
    return len(rows) / elapsed


def mails(directory: Path) -> list[Path]:
    return list(directory.glob("*.log"))


def main() -> None:
    args = parse_args()
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
    url = configure_environment(
        DEFAULT_URL,
        REDIS_URL=redis,
        CELERY_BROKER_URL=redis.rsplit("/", 1)[0] + "/6",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        NOTIFICATIONS_FANOUT_BATCH=str(args.batch),
    )
    mailbox = Path(tempfile.mkdtemp(prefix="lms-bench-mail-"))
    os.environ["EMAIL_FILE_PATH"] = str(mailbox)
    name = django_ready(url)

    from django.conf import settings
    from django.db import transaction

    from accounts.services import otp_send
    from lms.celery import app
    from notifications.content import Content
    from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus
    from notifications.services.messages import message_send

    reset()
    seed_customers(args.customers)
    app.control.purge()
    worker = worker_start(dict(os.environ), args.concurrency)
    try:
        noop = floor_noop(NOOP_TASKS)
        plain = floor_plain_insert(url, args.customers, args.batch)

        # In-app alone first: its rows are the whole fan-out, nothing else competes.
        in_app_only_started = time.perf_counter()
        with transaction.atomic():
            only = message_send(
                key=f"bench-in-app:{time.time_ns()}", source_type="bench", channels=[Channel.IN_APP],
                content=Content(title="Hello {{ first_name }}", body="A sale for you, {{ first_name }}."),
                audience={"kind": "all"},
            )  # fmt: skip
        while only.status != MessageStatus.DONE and time.perf_counter() - in_app_only_started < args.timeout:
            time.sleep(0.05)
            only.refresh_from_db()
        in_app_only = time.perf_counter() - in_app_only_started
        in_app_only_sent = Delivery.objects.filter(message=only, status=DeliveryStatus.SENT).count()

        otp: dict[str, float] = {}

        def otp_mid_fanout(message_key: str) -> None:
            while not Message.objects.filter(key=message_key, status=MessageStatus.FANNING_OUT).exists():
                time.sleep(0.01)
            asked = time.perf_counter()
            otp_send(email="otp-probe@bench.example")
            while not any("otp-probe@bench.example" in p.read_text(errors="replace") for p in mails(mailbox)):
                time.sleep(0.02)
            otp["seconds"] = time.perf_counter() - asked

        key = f"bench:{time.time_ns()}"
        probe = threading.Thread(target=otp_mid_fanout, args=(key,), daemon=True)
        probe.start()
        started = time.perf_counter()
        with transaction.atomic():
            message = message_send(
                key=key, source_type="bench", content=Content(title="Hello {{ first_name }}",
                body="A sale for you, {{ first_name }}."), channels=[Channel.IN_APP, Channel.EMAIL],
                audience={"kind": "all"},
            )  # fmt: skip
        deadline = started + args.timeout
        enqueued = None
        while time.perf_counter() < deadline:
            message.refresh_from_db()
            if enqueued is None and message.status == MessageStatus.DONE:
                enqueued = time.perf_counter() - started
            sent = Delivery.objects.filter(message=message, channel=Channel.EMAIL, status=DeliveryStatus.SENT).count()
            if enqueued is not None and sent >= args.customers:
                break
            time.sleep(0.2)
        finished = time.perf_counter() - started
        probe.join(timeout=10)
        rss = peak_rss_mb(worker.pid)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)

    rows = Delivery.objects.filter(message=message)
    in_app = rows.filter(channel=Channel.IN_APP, status=DeliveryStatus.SENT).count()
    email = rows.filter(channel=Channel.EMAIL, status=DeliveryStatus.SENT).count()
    mail_count = sum(p.read_text(errors="replace").count("Message-ID: ") for p in mails(mailbox))
    in_app_rate = in_app_only_sent / in_app_only
    print(machine_line(name))
    print(f"customers {args.customers:,}; fan-out batch {args.batch:,}; worker concurrency {args.concurrency}")
    print(f"floor: no-op celery tasks        {noop:12,.0f} tasks/s")
    print(f"floor: plain insert of in-app rows {plain:10,.0f} rows/s")
    print(
        f"in-app only: {in_app_only_sent:,} rows in {in_app_only:.1f} s = {in_app_rate:,.0f} rows/s"
        f" = {in_app_rate / plain:.0%} of the plain insert   aim >= {AIMS['in_app_vs_plain']:.0%}"
    )
    print(
        f"in-app + email: enqueue (every row written) {enqueued or float('nan'):.1f} s   aim <= {AIMS['enqueue_s']} s"
    )
    print(f"all email sent                   {finished:12.1f} s   {email / finished:,.0f} mails/s"
          f" = {email / finished / noop:.0%} of the no-op task rate (a task per {settings.NOTIFICATIONS_SEND_TASK_SIZE} mails)")  # fmt: skip
    print(f"deliveries/s (both channels)     {(in_app + email) / finished:12,.0f}")
    print(f"OTP mid fan-out reached the mailbox in {otp.get('seconds', float('nan')):.2f} s   aim <= {AIMS['otp_s']} s")
    print(f"worker peak RSS                  {rss:12.0f} MB   aim < {AIMS['rss_mb']} MB")
    problems = []
    if in_app_only_sent != args.customers:
        problems.append(f"in-app only: {in_app_only_sent} SENT rows, expected {args.customers}")
    if in_app != args.customers or email != args.customers:
        problems.append(f"SENT rows: in-app {in_app}, email {email}, expected {args.customers} each")
    if mail_count != args.customers + 1:
        problems.append(f"mails in the mailbox: {mail_count}, expected {args.customers + 1}")
    shutil.rmtree(mailbox, ignore_errors=True)
    if problems:
        sys.exit("; ".join(problems))
    print("check: every customer has one SENT row per channel; the mailbox holds one mail each + the OTP")


if __name__ == "__main__":
    main()
