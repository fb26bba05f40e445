"""A real server process whose PostgreSQL, Redis cache and broker go away and come back.

gunicorn runs the project against the test database, with each dependency behind a TCP proxy
of this process (lms/tests/proxy.py): stopping a proxy refuses new connections and cuts the
open ones, as a dead server would. What each failure answers is in the README's "When a
dependency fails" section; after each, the ledger and redemption invariants still hold.
"""

import http.client
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from rest_framework_api_key.models import APIKey

from accounts.services import session_start
from accounts.tests.factories import UserFactory
from campaigns.models import CampaignCounter, Redemption, RedemptionStatus
from campaigns.tests.factories import CampaignFactory
from lms.celery import app
from lms.models import OutboxTask
from lms.outbox import outbox_sweep
from lms.tests.proxy import TcpProxy
from loyalty.models import LoyaltyAccount
from loyalty.services.upkeep import balances_check
from loyalty.tests.factories import order_for, program_make
from segments.models import Segment
from segments.tests.factories import CustomerFactory

pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]
QUICK = 2.0  # seconds an answer may take while Redis or the broker is down
DB_DOWN_ANSWER = 5.0  # ... and while PostgreSQL is down (the pool waits DATABASE_POOL_TIMEOUT)
CART = {"lines": [{"sku": "TEE", "quantity": 2, "unit_price": "500.00"}]}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    seconds: float


@dataclass
class Server:
    port: int
    database: TcpProxy
    cache: TcpProxy
    broker: TcpProxy

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        data = json.dumps(body) if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        seconds = time.monotonic() - started
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, parsed, seconds)

    def wait_for(self, path: str, status: int, seconds: float = 15, **headers: str) -> Answer:
        deadline = time.monotonic() + seconds
        while True:
            answer = self.call("GET", path, **headers)
            if answer.status == status or time.monotonic() > deadline:
                return answer
            time.sleep(0.2)


def _proxy_for(url: str) -> TcpProxy:
    parts = urlsplit(url)
    return TcpProxy(parts.hostname, parts.port).start()


def _free_port() -> int:
    probe = TcpProxy("127.0.0.1", 1).start()  # binds a free loopback port
    probe.stop()
    return probe.port


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    db = connection.settings_dict
    database = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)).start()
    cache, broker = _proxy_for(settings.REDIS_URL), _proxy_for(settings.CELERY_BROKER_URL)
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{user}@127.0.0.1:{database.port}/{db['NAME']}",
        "REDIS_URL": cache.url_for(settings.REDIS_URL),
        "CELERY_BROKER_URL": broker.url_for(settings.CELERY_BROKER_URL),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "REDIS_FAILURE_PAUSE": "1",
        "DATABASE_POOL_MIN_SIZE": "1",
        "DATABASE_POOL_MAX_SIZE": "4",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    log = (tmp_path_factory.mktemp("faults") / "server.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "lms.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", "1", "--threads", "4", "--timeout", "60"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    running = Server(port, database, cache, broker)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                running.call("GET", "/healthz")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"the server did not start:\n{log.read()[-3000:]}")
                time.sleep(0.2)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=15)
        for proxy in (database, cache, broker):
            proxy.stop()
        log.close()


def bearer(user) -> str:
    return f"Bearer {session_start(user=user).access}"


def api_key() -> str:
    return f"Api-Key {APIKey.objects.create_key(name='storefront')[1]}"


def assert_invariants() -> None:
    """Campaign counters equal their redemptions; every loyalty balance equals its ledger."""
    redeemed = dict(
        Redemption.objects.filter(status=RedemptionStatus.REDEEMED)
        .values_list("campaign")
        .annotate(n=Count("pk"))
        .values_list("campaign", "n")
    )
    counted = dict(CampaignCounter.objects.filter(uses__gt=0).values_list("campaign", "uses"))
    assert counted == redeemed
    assert balances_check(fix=False) == []


def test_with_redis_down_what_needs_only_postgresql_works_and_readyz_says_503(server):
    key = api_key()
    customer = UserFactory(email="asha@example.com")
    CampaignFactory(name="Ten off", budget=Decimal("10000"))
    program = program_make()
    assert server.call("GET", "/readyz").status == 200

    server.cache.stop()
    health = server.call("GET", "/readyz")
    live = server.call("GET", "/healthz")
    me = server.call("GET", "/api/v1/me", Authorization=bearer(customer))
    evaluated = server.call("POST", "/api/v1/cart/evaluate", CART, Authorization=key)
    redeemed = server.call(
        "POST",
        "/api/v1/redemptions",
        {"order_id": "O-1", "customer": {"email": customer.email}, **CART},
        Authorization=key,
    )
    ordered = server.call(
        "POST", "/api/v1/commerce/orders/", order_for("O-1", {"email": customer.email}), Authorization=key
    )

    assert (health.status, health.body["checks"]["cache"]) == (503, "error"), health.body
    assert live.status == 200, live  # liveness: a Redis outage must not restart the process
    assert me.status == 200, me.body
    assert evaluated.status == 200 and evaluated.body["total_discount"] == "100.00", evaluated.body
    assert redeemed.status == 201, redeemed.body
    assert ordered.status in (200, 201), ordered.body
    for answer in (health, live, me, evaluated, redeemed, ordered):
        assert answer.seconds < QUICK, answer
    assert LoyaltyAccount.objects.get(program=program).balance > 0

    server.cache.start()
    assert server.wait_for("/readyz", 200).status == 200
    assert Redemption.objects.count() == 1
    assert_invariants()


def test_with_the_broker_down_writes_answer_theirs_and_their_tasks_run_once_it_is_back(server, mailoutbox):
    app.conf.task_always_eager = False  # conftest.py's autouse fixture restores it
    app.control.purge()
    admin = UserFactory(email="admin@example.com", role="ADMIN", is_staff=True)
    CustomerFactory(city="Pune")
    segment = {"name": "Pune", "kind": "USER", "type": "DYNAMIC", "criteria": {"all": [
        {"field": "city", "op": "eq", "value": "Pune"}]}}  # fmt: skip

    server.broker.stop()
    otp = server.call("POST", "/api/v1/auth/otp/send", {"email": "ravi@example.com"})
    created = server.call("POST", "/api/v1/segments/", segment, Authorization=bearer(admin))

    assert otp.status == 202 and otp.seconds < QUICK, otp
    assert created.status == 201 and created.seconds < QUICK, created
    assert OutboxTask.objects.count() == 2
    assert server.call("GET", "/readyz").body["checks"]["broker"] == "error"
    assert server.call("GET", "/healthz").status == 200

    server.broker.start()
    again = server.call("POST", "/api/v1/auth/otp/send", {"email": "mira@example.com"})
    assert again.status == 202, again
    assert OutboxTask.objects.count() == 2  # the server published the new one itself
    assert outbox_sweep(now=timezone.now() + timedelta(hours=1)) == 2  # the beat sweeper's run
    assert not OutboxTask.objects.exists()
    with start_worker(app, pool="solo", queues=["otp", "default"], perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (
            len(mailoutbox) == 2 and Segment.objects.filter(status=Segment.Status.READY).exists()
        ):
            time.sleep(0.05)
    assert sorted(message.to[0] for message in mailoutbox) == ["mira@example.com", "ravi@example.com"]
    assert Segment.objects.get().member_count == 1


def test_with_postgresql_down_answers_503_unavailable_quickly_and_recovers(server):
    customer = UserFactory(email="asha@example.com")
    token = bearer(customer)
    assert server.call("GET", "/api/v1/me", Authorization=token).status == 200

    server.database.stop()
    me = server.call("GET", "/api/v1/me", Authorization=token)
    ready = server.call("GET", "/readyz")
    live = server.call("GET", "/healthz")
    console = server.call("GET", "/admin/", Cookie="sessionid=abcdefghijklmnopqrstuvwxyz012345")

    for answer in (me, console):
        assert answer.status == 503, answer
        assert answer.body["code"] == "unavailable", answer
        assert answer.headers["retry-after"].isdigit(), answer
        assert answer.seconds < DB_DOWN_ANSWER, answer
    assert (ready.status, ready.body["checks"]["database"]) == (503, "error"), ready
    assert live.status == 200 and live.seconds < QUICK, live

    server.database.start()
    assert server.wait_for("/api/v1/me", 200, Authorization=token).status == 200
    assert_invariants()
