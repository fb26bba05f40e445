"""Pending points: a program's hold (days after the order, or until it is fulfilled plus a
return window) during which points earned on an order are shown but not spendable, so a
refund inside the hold takes them back whole."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lms.testing import assert_error
from loyalty.models import LoyaltyAccount, PointsTransaction
from loyalty.selectors import available_points
from loyalty.services.ledger import points_adjust
from loyalty.services.upkeep import balances_check, points_expire
from loyalty.tests.factories import change, order_for, program_make

pytestmark = pytest.mark.django_db

ME = "/api/v1/loyalty/me/"
REDEEM = "/api/v1/loyalty/redeem"
EVALUATE = "/api/v1/cart/evaluate"
REDEMPTIONS = "/api/v1/redemptions"
ORDERS = "/api/v1/commerce/orders/"
ASHA = {"email": "asha@example.com"}


def ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def ingest(client, external_id: str, placed_at: dt.datetime, amount: str = "1000.00", **extra) -> None:
    body = order_for(external_id, ASHA, [("TEE", 1, amount)], placed_at=placed_at.isoformat(), **extra)
    response = client.post(ORDERS, body, format="json")
    assert response.status_code == 201, response.content


def account(program) -> LoyaltyAccount:
    return LoyaltyAccount.objects.get(program=program, customer__email="asha@example.com")


def lot(external_id: str) -> PointsTransaction:
    return PointsTransaction.objects.get(kind="EARN", reference=external_id)


def checkout(program, points: int, order_id: str) -> dict:
    return {
        "order_id": order_id,
        "customer": ASHA,
        "lines": [{"sku": "TEE", "quantity": 1, "unit_price": "1000.00"}],
        "use_points": {"program_id": program.pk, "points": points},
    }


def test_points_spent_on_a_second_checkout_are_not_kept_after_a_refund_of_the_first(integration_client, customer):
    program = program_make(settings={"hold_days": 14, "point_value": Decimal("0.10")})
    ingest(integration_client, "O-1", ago(1), status="PAID")  # earns 1000 points, pending for 14 days

    cart = {key: value for key, value in checkout(program, 1000, "O-2").items() if key != "order_id"}
    evaluated = integration_client.post(EVALUATE, cart, format="json").json()
    spent = integration_client.post(REDEMPTIONS, checkout(program, 1000, "O-2"), format="json")
    change(integration_client, "O-1", status="REFUNDED")

    assert [r["reason"] for r in evaluated["rejected"]] == ["insufficient_points"]
    assert_error(spent, 409, "insufficient_points")
    reversal = PointsTransaction.objects.get(kind="REVERSAL")
    assert (reversal.points, reversal.detail["unrecovered"]) == (-1000, 0)
    assert account(program).balance == 0
    assert balances_check() == []


def test_pending_points_are_shown_with_their_date_and_become_spendable_when_the_hold_ends(
    integration_client, customer, customer_client
):
    program = program_make(settings={"hold_days": 7, "expiry_days": 30})
    placed_early, placed_late = ago(8), ago(2)
    ingest(integration_client, "EARLY", placed_early, amount="300.00")  # its hold ended a day ago
    ingest(integration_client, "LATE", placed_late, amount="500.00")

    [mine] = customer_client.get(ME).json()["programs"]
    refused = customer_client.post(REDEEM, {"program_id": program.pk, "points": 301, "order_id": "APP-1"})
    spent = customer_client.post(REDEEM, {"program_id": program.pk, "points": 300, "order_id": "APP-2"})

    assert (mine["balance"], mine["pending_points"]) == (300, 500)
    [pending] = mine["pending"]
    assert (pending["order_id"], pending["points"]) == ("LATE", 500)
    assert dt.datetime.fromisoformat(pending["available_at"]) == placed_late + dt.timedelta(days=7)
    assert_error(refused, 409, "insufficient_points")
    assert spent.status_code == 201, spent.content
    assert spent.json()["balance"] == 0  # spendable after it; the 500 pending points are not
    assert lot("LATE").remaining == 500
    # Expiry runs from availability: a hold never eats into the points' life.
    assert lot("LATE").expires_at == lot("LATE").available_at + dt.timedelta(days=30)


def test_points_held_until_fulfilment_wait_for_it_then_for_the_return_window(integration_client, customer):
    program = program_make(settings={"hold_until_fulfilled": True, "return_window_days": 10, "expiry_days": 90})
    ingest(integration_client, "SHIPPED", ago(30), status="PAID")
    ingest(integration_client, "RETURNABLE", ago(30), amount="200.00", status="PAID")
    ingest(integration_client, "WAITING", ago(30), amount="50.00", status="PAID")
    waiting = lot("WAITING")
    assert (waiting.held, waiting.available_at, waiting.expires_at) == (True, None, None)

    change(integration_client, "SHIPPED", status="FULFILLED", occurred_at=ago(11).isoformat())
    change(integration_client, "RETURNABLE", status="FULFILLED", occurred_at=ago(3).isoformat())

    assert available_points(account(program)) == 1000
    returnable = lot("RETURNABLE")
    assert returnable.available_at > timezone.now()
    assert returnable.expires_at == returnable.available_at + dt.timedelta(days=90)
    assert lot("WAITING").available_at is None
    assert account(program).balance == 1250  # the ledger's sum: pending points are in it


def test_an_order_ingested_already_fulfilled_starts_its_return_window_from_then(integration_client, customer):
    program = program_make(settings={"hold_until_fulfilled": True, "return_window_days": 5})
    placed = ago(6)

    ingest(integration_client, "DONE", placed, status="FULFILLED")

    assert lot("DONE").available_at == placed + dt.timedelta(days=5)
    assert available_points(account(program)) == 1000


def test_a_refund_inside_the_hold_takes_the_orders_own_pending_points_and_nothing_else(integration_client, customer):
    program = program_make(settings={"hold_days": 30})
    points_adjust(customer=customer, program_id=program.pk, points=100, reason="welcome", by=None)
    ingest(integration_client, "O-1", ago(1), amount="400.00", status="PAID")
    ingest(integration_client, "O-2", ago(1), amount="600.00", status="PAID")

    change(integration_client, "O-1", status="REFUNDED", refund_lines=[{"sku": "TEE", "quantity": 1}], change_id="r1")

    reversal = PointsTransaction.objects.get(kind="REVERSAL")
    assert (reversal.points, reversal.detail["unrecovered"]) == (-400, 0)
    assert (lot("O-1").remaining, lot("O-2").remaining) == (0, 600)
    assert available_points(account(program)) == 100
    assert account(program).balance == 700
    assert balances_check() == []


def test_a_refund_after_the_hold_takes_what_is_left_as_without_a_hold(integration_client, customer):
    program = program_make(settings={"hold_days": 2})
    ingest(integration_client, "O-1", ago(3))
    spent = integration_client.post(REDEMPTIONS, checkout(program, 800, "O-2"), format="json")
    assert spent.status_code == 201, spent.content

    change(integration_client, "O-1", status="CANCELLED")

    reversal = PointsTransaction.objects.get(kind="REVERSAL")
    assert (reversal.points, reversal.detail["unrecovered"]) == (-200, 800)
    assert balances_check() == []


def test_expiry_never_takes_points_still_waiting_for_their_orders_fulfilment(integration_client, customer):
    program = program_make(settings={"hold_until_fulfilled": True, "expiry_days": 1})
    ingest(integration_client, "SLOW", ago(400), status="PAID")

    report = points_expire(now=timezone.now() + dt.timedelta(days=3650))

    assert (report.lots, report.points) == (0, 0)
    assert lot("SLOW").remaining == 1000
    assert account(program).balance == 1000


def test_a_held_lots_dates_are_set_once_and_no_other_lot_may_take_them(integration_client, customer):
    program_make(settings={"hold_until_fulfilled": True})
    ingest(integration_client, "O-1", ago(2), status="PAID")
    points_adjust(customer=customer, program_id=lot("O-1").account.program_id, points=5, reason="x", by=None)
    change(integration_client, "O-1", status="FULFILLED")
    held, plain = lot("O-1"), PointsTransaction.objects.get(kind="ADJUST")

    for row, column in ((held, "available_at"), (held, "expires_at"), (plain, "available_at")):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE loyalty_pointstransaction SET {column} = now() WHERE id = %s", [row.pk])


def test_rebuild_check_reports_pending_points_that_were_taken(integration_client, customer):
    program = program_make(settings={"hold_days": 30})
    ingest(integration_client, "O-1", ago(1))
    with connection.cursor() as cursor:  # a defect's trace: a pending lot consumed behind the ledger's back
        cursor.execute("UPDATE loyalty_pointstransaction SET remaining = remaining - 10 WHERE kind = 'EARN'")

    [mismatch] = balances_check()

    assert mismatch.account_id == account(program).pk
    assert (mismatch.balance, mismatch.open_lots, mismatch.pending_taken) == (1000, 990, 10)


def test_me_shows_pending_points_in_as_many_queries_for_many_orders_as_for_one(
    integration_client, customer, customer_client
):
    program_make(settings={"hold_days": 30})
    ingest(integration_client, "O-0", ago(1))
    with CaptureQueriesContext(connection) as few:
        customer_client.get(ME)
    for n in range(1, 8):
        ingest(integration_client, f"O-{n}", ago(1))

    with CaptureQueriesContext(connection) as many:
        [mine] = customer_client.get(ME).json()["programs"]

    assert len(many) == len(few) > 0
    assert mine["pending_points"] == 8000 and len(mine["pending"]) == 8


def test_a_debit_by_hand_takes_only_available_points(integration_client, admin_client, customer):
    program = program_make(settings={"hold_days": 30})
    points_adjust(customer=customer, program_id=program.pk, points=100, reason="welcome", by=None)
    ingest(integration_client, "O-1", ago(1))
    url = f"/api/v1/loyalty/accounts/{customer.pk}/adjust"

    too_much = admin_client.post(url, {"program_id": program.pk, "points": -101, "reason": "fix"}, format="json")
    taken = admin_client.post(url, {"program_id": program.pk, "points": -100, "reason": "fix"}, format="json")

    assert_error(too_much, 409, "insufficient_points")
    assert taken.status_code == 201, taken.content
    assert taken.json()["balance"] == 0
    assert (lot("O-1").remaining, account(program).balance) == (1000, 1000)


def test_the_transactions_show_which_points_are_held_and_until_when(integration_client, customer, customer_client):
    program_make(settings={"hold_days": 10})
    placed = ago(1)
    ingest(integration_client, "O-1", placed)

    [row] = customer_client.get("/api/v1/loyalty/me/transactions/").json()["results"]

    assert row["held"] is True
    assert dt.datetime.fromisoformat(row["available_at"]) == placed + dt.timedelta(days=10)
