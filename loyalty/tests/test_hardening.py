"""Adversarial findings: points that must not be lost or doubled, changes that must not be
refused or deadlock, and a hot path whose query count must not grow with the data."""

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commerce.tests.factories import CategoryFactory, ProductFactory
from loyalty.models import LoyaltyAccount, PointsTransaction
from loyalty.services.ledger import points_adjust, points_redeem
from loyalty.services.upkeep import balances_check, points_expire
from loyalty.tests.factories import order_for, program_make

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/commerce/orders/"
EVENTS = "/api/v1/commerce/events/"
ASHA = {"external_id": "C-ASHA", "email": "asha@example.com"}
STREAK = {"rule_type": "DAILY_LOGIN_STREAK", "base_points": 10}


def rate(points_per_rupee: str) -> dict:
    return {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": Decimal(points_per_rupee)}


def ingest(client, external_id: str, lines=None, **extra):
    response = client.post(ORDERS, order_for(external_id, ASHA, lines, **extra), format="json")
    assert response.status_code in (200, 201), response.content
    return response


def change(client, external_id: str, **body):
    response = client.patch(f"{ORDERS}{external_id}/", body, format="json")
    assert response.status_code == 200, response.content
    return response


def asha_account(program) -> LoyaltyAccount:
    return LoyaltyAccount.objects.get(program=program, customer__email="asha@example.com")


# --- Logins ------------------------------------------------------------------------------------


def test_two_late_logins_for_the_same_past_day_in_one_batch_award_that_day_once(integration_client):
    program = program_make(rules=[STREAK])
    first = integration_client.post(
        EVENTS, {"kind": "LOGIN", "customer": ASHA, "occurred_at": "2025-06-05T06:00:00Z"}, format="json"
    )
    assert first.status_code == 200, first.content
    late = [
        {"kind": "LOGIN", "customer": ASHA, "occurred_at": at}
        for at in ("2025-06-03T06:00:00Z", "2025-06-03T07:00:00Z")  # the same Kolkata day, before the last
    ]

    response = integration_client.post(EVENTS, {"events": late}, format="json")

    assert response.status_code == 200, response.content
    rows = PointsTransaction.objects.filter(account__program=program, source="LOGIN").order_by("occurred_at")
    assert [(row.reference, row.points) for row in rows] == [("2025-06-03", 10), ("2025-06-05", 10)]
    assert asha_account(program).balance == 20


def test_a_batch_of_logins_takes_as_many_queries_for_many_customers_as_for_few(integration_client):
    program_make(rules=[STREAK])

    def batch(tag: str, count: int) -> int:
        events = [
            {"kind": "LOGIN", "customer": {"email": f"{tag}{n}@example.com"}, "occurred_at": "2025-06-03T06:00:00Z"}
            for n in range(count)
        ]
        integration_client.post(EVENTS, {"events": events}, format="json")  # the customers now exist
        events = [{**event, "occurred_at": "2025-06-04T06:00:00Z"} for event in events]
        with CaptureQueriesContext(connection) as queries:
            response = integration_client.post(EVENTS, {"events": events}, format="json")
        assert response.status_code == 200, response.content
        return len(queries)

    few, many = batch("few", 2), batch("many", 12)

    assert PointsTransaction.objects.filter(source="LOGIN").count() == 28
    assert many == few


# --- Reversals -----------------------------------------------------------------------------------


def test_refunding_the_rest_of_an_order_after_its_category_lines_were_refunded_and_spent_is_accepted(
    integration_client, customer
):
    footwear = CategoryFactory(name="Footwear")
    ProductFactory(sku="BOOT", category=footwear)
    ProductFactory(sku="TEE", category=CategoryFactory(name="Apparel"))
    program = program_make(
        rules=[
            rate("1"),
            {"rule_type": "CATEGORY_POINTS", "points_per_rupee": Decimal("2"), "category_ids": [footwear.pk]},
        ]
    )
    ingest(integration_client, "O-1", lines=[("BOOT", 1, "1000.00"), ("TEE", 1, "500.00")])
    change(integration_client, "O-1", status="PAID")
    account = asha_account(program)
    assert account.balance == 2500
    points_redeem(customer_id=account.customer.pk, program_id=program.pk, points=2500, order_id="CHK-ELSEWHERE")

    # Every unit of the category rule's lines back: its 2000 points are due, none can be taken.
    change(integration_client, "O-1", status="REFUNDED", refund_lines=[{"sku": "BOOT", "quantity": 1}], change_id="r1")
    # The last line back: the order is REFUNDED, a full reversal asks for what is still left.
    response = integration_client.patch(
        f"{ORDERS}O-1/",
        {"status": "REFUNDED", "refund_lines": [{"sku": "TEE", "quantity": 1}], "change_id": "r2"},
        format="json",
    )

    assert response.status_code == 200, response.content
    account.refresh_from_db()
    assert (account.balance, account.lifetime_earned) == (0, 0)
    assert balances_check() == []


def test_a_reversal_never_takes_points_past_their_date_so_the_customer_keeps_no_expired_points(integration_client):
    program = program_make(settings={"expiry_days": 365})
    ingest(integration_client, "O-1", lines=[("SKU-1", 1, "100.00")], placed_at=timezone.now().isoformat())
    change(integration_client, "O-1", status="PAID")
    # A lot that runs out in a few seconds (its order was placed almost a year ago).
    soon = timezone.now() - dt.timedelta(days=365) + dt.timedelta(seconds=3)
    ingest(integration_client, "O-OLD", lines=[("SKU-1", 1, "100.00")], placed_at=soon.isoformat())
    account = asha_account(program)
    fresh = points_adjust(customer=account.customer, program_id=program.pk, points=100, reason="goodwill", by=None)
    points_redeem(customer_id=account.customer.pk, program_id=program.pk, points=100, order_id="CHK-1")  # O-1's lot
    old_lot = PointsTransaction.objects.get(reference="O-OLD", kind="EARN")
    time.sleep(max((old_lot.expires_at - timezone.now()).total_seconds(), 0) + 0.2)

    change(integration_client, "O-1", status="CANCELLED")
    points_expire()

    account.refresh_from_db()
    fresh.refresh_from_db()
    # O-OLD's 100 points expired on their own; the cancel takes O-1's 100 back from the fresh lot.
    assert (account.balance, fresh.remaining) == (0, 0)
    assert PointsTransaction.objects.get(kind="EXPIRE", reverses=old_lot).points == -100


# --- Lock order ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_cancelling_an_order_that_redeemed_in_one_program_and_earned_in_another_does_not_deadlock_an_ingest():
    """The documented lock order is accounts by id. Cancelling O-1 gives back its redemption
    first (locking the later account, program B's), then takes back its earnings (waiting for
    the earlier one, program A's); a new order of the same customer locks A then B."""
    from commerce.api.serializers import OrderInput
    from commerce.services.orders import order_ingest, order_status_change
    from loyalty import selectors

    selectors._local.clear()
    program_a, program_b = program_make(name="A"), program_make(name="B")

    def ingest_order(external_id: str) -> None:
        data = OrderInput(data=order_for(external_id, ASHA, [("SKU-1", 1, "100.00")]))
        assert data.is_valid(), data.errors
        order_ingest(data=data.validated_data)

    ingest_order("O-1")
    account_a, account_b = asha_account(program_a), asha_account(program_b)
    assert account_a.pk < account_b.pk and account_a.balance == account_b.balance == 100
    points_redeem(customer_id=account_b.customer.pk, program_id=program_b.pk, points=40, order_id="O-1")

    holding, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def hold_a() -> None:  # a third writer of account A (an adjustment, say) makes both wait there
        try:
            with transaction.atomic():
                LoyaltyAccount.objects.select_for_update(no_key=True).get(pk=account_a.pk)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def run(name: str, work) -> None:
        try:
            work()
            outcomes[name] = "ok"
        except Exception as error:  # noqa: BLE001 - reported below
            outcomes[name] = error
        finally:
            connection.close()

    holder = threading.Thread(target=hold_a, daemon=True)
    holder.start()
    assert holding.wait(10)
    ingest = threading.Thread(target=run, args=("ingest", lambda: ingest_order("O-2")), daemon=True)
    ingest.start()
    time.sleep(0.5)  # the ingest queues on A first
    cancel = threading.Thread(
        target=run, args=("cancel", lambda: order_status_change(external_id="O-1", status="CANCELLED")), daemon=True
    )
    cancel.start()
    time.sleep(0.5)  # the cancel holds B and queues on A behind the ingest
    release.set()
    for thread in (holder, ingest, cancel):
        thread.join(30)

    assert outcomes == {"ingest": "ok", "cancel": "ok"}, outcomes
    account_a.refresh_from_db()
    account_b.refresh_from_db()
    # A: 100 (O-1) - 100 (cancelled) + 100 (O-2); B: 100 - 40 + 40 (given back) - 100 + 100.
    assert (account_a.balance, account_b.balance) == (100, 100)
    assert balances_check() == []
    selectors._local.clear()


# --- Tiers ----------------------------------------------------------------------------------------


def test_an_order_counts_once_towards_the_spend_tier_of_each_of_two_programs_with_the_same_window(
    integration_client,
):
    spend = {"tier_basis": "SPEND", "tier_window_days": 365}
    tiers = [{"name": "Silver", "threshold": Decimal("0")}, {"name": "Gold", "threshold": Decimal("1500")}]
    first = program_make(name="First", settings=spend, tiers=tiers)
    second = program_make(name="Second", settings=spend, tiers=tiers)

    ingest(integration_client, "O-1", lines=[("SKU-1", 1, "1000.00")], placed_at=timezone.now().isoformat())

    # 1000 rupees spent: Silver in both programs (Gold starts at 1500).
    assert [asha_account(p).tier.name for p in (first, second)] == ["Silver", "Silver"]
