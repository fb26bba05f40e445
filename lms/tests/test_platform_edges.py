"""Edges of the platform: inputs at the end of the calendar, dependencies that are half up,
races between calls, and the routes probes and old clients use.

The first part pins defects found by trying to break the security and failure work (each test
failed before its fix); the second part pins attacks on it that hold.
"""

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from accounts.models import User
from campaigns.tests.factories import CampaignFactory
from commerce.hooks import order_batch_hooks
from commerce.tests.factories import order_body
from lms.errors import Conflict
from lms.testing import assert_error
from loyalty.models import LoyaltyAccount, PointsTransaction
from loyalty.selectors import available_points
from loyalty.services.upkeep import balances_check
from loyalty.tests.factories import order_for, program_make

ORDERS = "/api/v1/commerce/orders/"
BULK = "/api/v1/commerce/orders/bulk"
REDEEM = "/api/v1/loyalty/redeem"
EVALUATE = "/api/v1/cart/evaluate"
REDEMPTIONS = "/api/v1/redemptions"
PREVIEW = "/api/v1/segments/preview"
ASHA = {"email": "asha@example.com"}
REPO_ROOT = django_settings.BASE_DIR
STRONG_KEY = "k" * 10 + "Zq8#x!Lm2@vB7$nR4%tY6^wE1&uI9*oP3(aS5)dF0_gH"  # 50+ chars, many distinct


def ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def _python(code: str, **env_changes: str) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "JWT_SIGNING_KEY", "ALLOWED_HOSTS")}
    keep.update(DJANGO_SETTINGS_MODULE="lms.settings", **env_changes)
    return subprocess.run(
        [sys.executable, "-c", f"import django\ndjango.setup()\n{code}"],
        cwd=REPO_ROOT, env=keep, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


# --- item 2: secure defaults -----------------------------------------------------------------


def test_a_trivially_short_jwt_signing_key_is_refused_without_debug():
    """JWT_SIGNING_KEY signs ADMIN tokens (HS256). Outside DEBUG only the development key and ""
    are refused; a one-letter key starts fine and `check --deploy` says nothing about it."""
    result = _python("", SECRET_KEY=STRONG_KEY, JWT_SIGNING_KEY="x", ALLOWED_HOSTS="lms.example.com")

    assert result.returncode != 0, "a 1-character JWT signing key was accepted with DEBUG off"


@pytest.mark.django_db
def test_readyz_the_probe_the_settings_and_readme_name_exists(api_client):
    """SECURE_REDIRECT_EXEMPT and the README exempt /readyz from the https redirect "for
    probes" and DESIGN splits /healthz (liveness) from /readyz (dependencies), but no route
    answers /readyz: a probe configured from the README gets 404 (and, with DEBUG on, HTML)."""
    response = api_client.get("/readyz")

    assert response.status_code in (200, 503), response.status_code


# --- item 4: pending points ------------------------------------------------------------------


@pytest.mark.django_db
def test_an_order_placed_at_the_end_of_year_9999_under_a_hold_is_not_a_500(integration_client, customer):
    """placed_at passes validation up to 9999-12-31T18:29Z (it must fit Asia/Kolkata);
    order_hold() then adds hold_days: OverflowError -> 500 on ingest."""
    program_make(settings={"hold_days": 14})
    body = order_for("LATE", ASHA, [("TEE", 1, "100.00")], placed_at="9999-12-31T10:00:00Z", status="PAID")

    response = integration_client.post(ORDERS, body, format="json")

    assert response.status_code in (201, 400), response.status_code


@pytest.mark.django_db
def test_a_fulfilment_dated_at_the_end_of_year_9999_under_a_return_window_is_not_a_500(integration_client, customer):
    """The FULFILLED change's occurred_at + return_window_days overflows in orders_fulfilled()."""
    program_make(settings={"hold_until_fulfilled": True, "return_window_days": 30})
    body = order_for("O-1", ASHA, [("TEE", 1, "100.00")], placed_at=ago(1).isoformat(), status="PAID")
    assert integration_client.post(ORDERS, body, format="json").status_code == 201

    response = integration_client.patch(
        f"{ORDERS}O-1/", {"status": "FULFILLED", "occurred_at": "9999-12-31T10:00:00Z"}, format="json"
    )

    assert response.status_code in (200, 400), response.status_code


@pytest.mark.django_db
def test_a_backfill_dates_the_return_window_from_the_fulfilment_not_from_the_order(integration_client, customer):
    """orders_earn_backfill() (a program launched over existing history) builds every change
    with occurred_at=placed_at, so an order placed 20 days ago and fulfilled yesterday gets
    available_at = placed_at + window, 10 days in the past: its points are spendable at once
    although the order is still returnable (the case pending points exist for)."""
    from loyalty.services.earning import orders_earn_backfill

    body = order_for("OLD", ASHA, [("TEE", 1, "1000.00")], placed_at=ago(20).isoformat(), status="PAID")
    assert integration_client.post(ORDERS, body, format="json").status_code == 201
    fulfilled = integration_client.patch(
        f"{ORDERS}OLD/", {"status": "FULFILLED", "occurred_at": ago(1).isoformat()}, format="json"
    )
    assert fulfilled.status_code == 200, fulfilled.content
    program = program_make(settings={"hold_until_fulfilled": True, "return_window_days": 10})

    orders_earn_backfill()

    account = LoyaltyAccount.objects.get(program=program, customer__email="asha@example.com")
    assert account.balance == 1000
    assert available_points(account) == 0, "points of an order still inside its return window are spendable"


# --- item 8: Redis down ----------------------------------------------------------------------


@pytest.mark.django_db
def test_with_redis_down_a_deactivated_campaign_stops_discounting_at_once_on_the_node_that_changed_it(
    settings, admin_client, integration_client
):
    """The snapshot version lives only in Redis: with Redis down snapshot_version() is None
    before and after the change, so the node keeps its snapshot for SNAPSHOT_TTL (60 s) and a
    campaign paused (stopped for fraud, a wrong price) keeps discounting every checkout."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}}
    campaign = CampaignFactory(name="Ten off")
    cart = {"lines": [{"sku": "TEE", "quantity": 2, "unit_price": "500.00"}]}
    before = integration_client.post(EVALUATE, cart, format="json").json()["total_discount"]

    paused = admin_client.patch(f"/api/v1/campaigns/{campaign.pk}/status/", {"status": "INACTIVE"}, format="json")
    after = integration_client.post(EVALUATE, cart, format="json").json()["total_discount"]

    assert paused.status_code == 200, paused.content
    assert before == "100.00"
    assert after == "0.00", "a deactivated campaign still applies while Redis is down"


class _RedisRefusingWrites:
    """A Redis that answers reads (misses) and refuses every write, as a real one does at
    maxmemory with the noeviction policy Celery recommends for its broker ("-OOM ...") or as
    a replica after a failover does ("-READONLY ...")."""

    def __init__(self, error: bytes) -> None:
        import socketserver

        error_line = b"-" + error + b"\r\n"

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while True:
                    head = self.rfile.readline()
                    if not head:
                        return
                    parts = []
                    for _ in range(int(head[1:].strip() or 0)):
                        size = int(self.rfile.readline()[1:].strip())
                        parts.append(self.rfile.read(size + 2)[:-2])
                    command = parts[0].upper() if parts else b""
                    if command == b"GET":
                        reply = b"$-1\r\n"
                    elif command == b"MGET":
                        reply = b"*%d\r\n" % (len(parts) - 1) + b"$-1\r\n" * (len(parts) - 1)
                    elif command in (b"EXISTS", b"DEL", b"UNLINK"):
                        reply = b":0\r\n"
                    elif command in (b"CLIENT", b"SELECT"):
                        reply = b"+OK\r\n"
                    elif command == b"PING":
                        reply = b"+PONG\r\n"
                    else:
                        reply = error_line
                    self.wfile.write(reply)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error",
    [
        b"OOM command not allowed when used memory > 'maxmemory'.",
        b"READONLY You can't write against a read only replica.",
    ],
    ids=["oom", "readonly"],
)
def test_a_redis_that_refuses_writes_does_not_turn_every_throttled_route_into_a_500(settings, customer_client, error):
    """lms.cache fails soft only on ConnectionError/TimeoutError/OSError. A Redis that is up
    but refuses writes raises redis.ResponseError (OutOfMemoryError, ReadOnlyError): DRF's
    throttle's cache.set() raises it and every throttled request is a 500. With the default
    CELERY_BROKER_URL = REDIS_URL, a backlog while the workers are down is enough to get there."""
    fake = _RedisRefusingWrites(error)
    try:
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{fake.port}/0"}}
        customer_client.raise_request_exception = False

        response = customer_client.get("/api/v1/me")
    finally:
        fake.close()

    assert response.status_code == 200, response.status_code


# --- item 11: segment criteria ranges --------------------------------------------------------


@pytest.mark.django_db
def test_days_since_criteria_refuse_negative_day_counts_instead_of_inverting_the_answer(admin_client, customer):
    """ "days since sign-up >= -3,000,000" is true of everyone, yet ago() overflows past year
    9999, falls back to datetime.min and selects nobody. Negative day counts mean nothing for
    a days-since field: a 400 (as best_seller_percent outside 1..100 now is), never a wrong count."""
    criteria = {"all": [{"field": "days_since_signup", "op": "gte", "value": -3_000_000}]}

    response = admin_client.post(PREVIEW, {"kind": "USER", "criteria": criteria}, format="json")

    assert response.status_code == 400 or response.json()["count"] == User.objects.count(), response.json()


# --- item 12: commerce idempotency -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_refused_orders_cleanup_never_deletes_a_customer_another_call_created(client_with_key_factory):
    """_refused_order_remove() deletes the order's customer when it was not in
    ``customers_before``, read BEFORE the resolver's insert. A customer that a concurrent
    customers upsert commits in between (our insert waits on its row, then skips it) is taken
    for one this ingest created, and deleted when the order is refused: a customer record the
    platform created in another, successful call is lost."""
    from commerce.services.customers import customers_upsert

    client = client_with_key_factory()
    inserted, go, errors = threading.Event(), threading.Event(), []

    def upsert():
        from django.db import connection as conn
        from django.db import transaction

        try:
            with transaction.atomic():
                customers_upsert(items=[{"external_id": "C-RACE", "email": "race@example.com"}])
                inserted.set()
                go.wait(10)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            conn.close()

    def refuse(changes):
        raise Conflict("order_refused", "Not this one.")

    order_batch_hooks.register("test-refuse", refuse)
    try:
        writer = threading.Thread(target=upsert)
        writer.start()
        assert inserted.wait(10)
        answer = {}

        def ingest():
            from django.db import connection as conn

            body = order_body("ORD-RACE", customer={"external_id": "C-RACE", "email": "race@example.com"})
            answer["response"] = client.post(ORDERS, body, format="json")
            conn.close()

        reader = threading.Thread(target=ingest)
        reader.start()
        time.sleep(1.0)  # the ingest has read customers_before and now waits on the upsert's row
        go.set()
        writer.join(10)
        reader.join(20)
    finally:
        order_batch_hooks.unregister("test-refuse")

    assert not errors, errors
    assert answer["response"].status_code == 409, answer["response"].content
    assert User.objects.filter(email="race@example.com").exists(), "the upserted customer was deleted"


@pytest.fixture
def client_with_key_factory(transactional_db):
    from rest_framework.test import APIClient
    from rest_framework_api_key.models import APIKey

    def make():
        _, key = APIKey.objects.create_key(name="storefront")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return client

    return make


# --- item 13: API polish --------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_routes_take_a_trailing_slash_as_the_nestjs_service_did(api_client):
    """The /api/ fallback serves both spellings, but the seed routes at the root do not:
    Express (NestJS) routing is non-strict, so `/auth/signin/` reached the seed service; here
    it is a 404."""
    body = {"email": "nobody@example.com", "password": "wrong-password-1"}

    canonical = api_client.post("/auth/signin", body, format="json")
    slashed = api_client.post("/auth/signin/", body, format="json")

    assert canonical.status_code == 401
    assert slashed.status_code == canonical.status_code, slashed.status_code


# ============================================================================================
# Attacks that hold
# ============================================================================================


def _ingest(client, external_id, placed_at, amount="1000.00", **extra):
    body = order_for(external_id, ASHA, [("TEE", 1, amount)], placed_at=placed_at.isoformat(), **extra)
    response = client.post(ORDERS, body, format="json")
    assert response.status_code == 201, response.content


def _account(program):
    return LoyaltyAccount.objects.get(program=program, customer__email="asha@example.com")


def _lot(external_id):
    return PointsTransaction.objects.get(kind="EARN", reference=external_id)


@pytest.mark.django_db
def test_pending_points_survive_every_spending_path_and_a_partial_then_full_refund(
    integration_client, customer, customer_client, admin_client
):
    program = program_make(settings={"hold_until_fulfilled": True, "return_window_days": 7})
    _ingest(integration_client, "O-1", ago(2), status="PAID")  # 1000 pending, no date yet

    redeem = customer_client.post(REDEEM, {"program_id": program.pk, "points": 1, "order_id": "APP-1"}, format="json")
    cart = {
        "order_id": "O-2",
        "customer": ASHA,
        "lines": [{"sku": "TEE", "quantity": 1, "unit_price": "1000.00"}],
        "use_points": {"program_id": program.pk, "points": 1},
    }
    spend = integration_client.post(REDEMPTIONS, cart, format="json")
    debit = admin_client.post(
        f"/api/v1/loyalty/accounts/{customer.pk}/adjust",
        {"program_id": program.pk, "points": -1, "reason": "x"},
        format="json",
    )
    assert_error(redeem, 409, "insufficient_points")
    assert spend.status_code == 409, spend.content
    assert_error(debit, 409, "insufficient_points")

    # fulfilled (twice: the second is a no-op), partly refunded inside the window, then fully
    for change_id, body in (
        ("f1", {"status": "FULFILLED"}),
        ("f2", {"status": "FULFILLED"}),
        ("r1", {"status": "REFUNDED", "refund_lines": [{"sku": "TEE", "quantity": 1}]}),
    ):
        response = integration_client.patch(f"{ORDERS}O-1/", {**body, "change_id": change_id}, format="json")
        assert response.status_code == 200, response.content
    assert available_points(_account(program)) == 0
    assert _account(program).balance == 0
    assert balances_check() == []


@pytest.mark.django_db
def test_change_id_reuse_with_another_body_and_refund_lines_without_change_id(integration_client, customer):
    body = order_for("O-1", ASHA, [("TEE", 2, "100.00")], placed_at=ago(1).isoformat(), status="PAID")
    assert integration_client.post(ORDERS, body, format="json").status_code == 201
    url = f"{ORDERS}O-1/"
    one = {"status": "REFUNDED", "refund_lines": [{"sku": "TEE", "quantity": 1}], "change_id": "r1"}

    first = integration_client.patch(url, one, format="json")
    replay = integration_client.patch(url, one, format="json")
    other = integration_client.patch(url, {**one, "reason": "changed"}, format="json")
    no_id = integration_client.patch(url, {k: v for k, v in one.items() if k != "change_id"}, format="json")

    assert (first.status_code, replay.status_code) == (200, 200)
    assert_error(other, 409, "idempotency_conflict")
    assert_error(no_id, 400, "validation_error")


@pytest.mark.django_db
def test_events_replayed_with_another_body_are_409(integration_client, customer):
    event = {"external_id": "E-1", "kind": "LOGIN", "customer": ASHA, "occurred_at": "2026-01-01T00:00:00+19:47"}

    first = integration_client.post("/api/v1/commerce/events/", event, format="json")
    same_instant = integration_client.post(
        "/api/v1/commerce/events/", {**event, "occurred_at": "2025-12-31T04:13:00Z"}, format="json"
    )
    other = integration_client.post(
        "/api/v1/commerce/events/", {**event, "occurred_at": "2026-01-01T00:00:00Z"}, format="json"
    )

    assert first.status_code in (200, 201), first.content
    assert same_instant.status_code in (200, 201), same_instant.content
    assert other.status_code == 409 or other.json()["results"][0]["error"]["code"] == "idempotency_conflict"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+19:47",
        "9999-12-31T23:59:59-19:47",
        "1900-01-01T00:00:00+19:47",
        "9999-12-31T23:59:59+19:47",
    ],
)
def test_datetimes_with_odd_offsets_at_the_edges_are_400_or_stored(integration_client, value):
    body = order_body("ORD-TZ", placed_at=value)

    response = integration_client.post(ORDERS, body, format="json")

    assert response.status_code in (201, 400), (value, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "condition",
    [
        {"field": "signed_up", "op": "before", "value": "0001-01-01"},
        {"field": "signed_up", "op": "between", "value": ["2026-01-01", "2025-01-01"]},
        {"field": "days_since_signup", "op": "gte", "value": 10**12},
        {"field": "total_spend", "op": "gte", "value": "1e13"},
        {"field": "total_spend", "op": "gte", "value": "NaN"},
        {"field": "orders", "op": "gte", "value": 1, "window_days": 10**9},
        {"field": "orders", "op": "gte", "value": 1, "window_days": 0},
    ],
)
def test_segment_criteria_out_of_range_are_400_or_answered(admin_client, condition):
    response = admin_client.post(PREVIEW, {"kind": "USER", "criteria": {"all": [condition]}}, format="json")

    assert response.status_code in (200, 400), (condition, response.status_code)


@pytest.mark.django_db
def test_api_polish(api_client, customer_client, admin_client):
    # unknown /api/ route: the JSON shape even with DEBUG on (the tests run with DEBUG=true)
    assert_error(api_client.get("/api/v1/nope/at/all"), 404, "not_found")
    assert_error(api_client.post("/api/nothing", {"a": 1}, format="json"), 404, "not_found")
    # both spellings, a POST body included
    assert customer_client.get("/api/v1/me").status_code == customer_client.get("/api/v1/me/").status_code == 200
    body = {"email": "nobody@example.com", "password": "wrong-password-1"}
    with_slash = api_client.post("/api/v1/auth/signin/", body, format="json")
    assert_error(with_slash, 401, with_slash.json()["code"])
    # favicon, ReDoc without a CDN
    assert api_client.get("/favicon.ico").status_code == 200
    redoc = api_client.get("/api/redoc/").content.decode()
    assert "fonts.googleapis" not in redoc and "cdn." not in redoc and "unpkg" not in redoc


@pytest.mark.django_db
def test_product_category_filter_by_name_and_path(admin_client):
    from commerce.models import Category, Product

    root = Category.objects.create(name="Electronics")
    phones = Category.objects.create(name="Phones", parent=root)
    Product.objects.create(sku="PH-1", name="Phone", category=phones, price=Decimal("10.00"))

    for value in ("Electronics", "electronics > phones", "Phones", str(root.pk)):
        response = admin_client.get("/api/v1/commerce/products/", {"category": value})
        assert response.status_code == 200, response.content
        assert [p["sku"] for p in response.json()["results"]] == ["PH-1"], value
    assert admin_client.get("/api/v1/commerce/products/", {"category": "Nope"}).json()["count"] == 0
    assert connection.vendor == "postgresql"
