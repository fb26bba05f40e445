"""The points ledger under real concurrency on PostgreSQL: threads released together through
the ingestion API and the ledger services, each on its own connection. Afterwards every
balance equals the sum of its transactions and of its open lots, and nothing was earned or
spent twice."""

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from accounts.models import User
from commerce.api.serializers import OrderInput
from commerce.services.orders import order_ingest, order_status_change
from conftest import client_with_key
from lms.errors import Conflict
from lms.testing import run_concurrently
from loyalty import selectors
from loyalty.models import LoyaltyAccount, PointsTransaction, TransactionKind
from loyalty.services.ledger import points_adjust, points_redeem
from loyalty.services.upkeep import balances_check, points_expire
from loyalty.tests.factories import ASHA, asha_account, order_for, program_make

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = "/api/v1/commerce/orders/"
BULK = "/api/v1/commerce/orders/bulk"
RATE = [{"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": Decimal("1")}]
BONUS = {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 50}


@pytest.fixture(autouse=True)
def _fresh_snapshot():
    # The program snapshot is cached per process; every test here makes its own program.
    selectors._SNAPSHOT.forget()
    yield
    selectors._SNAPSHOT.forget()


def who(n: int) -> dict:
    return {"external_id": f"C-{n}", "email": f"c{n}@example.com"}


def ingest(external_id: str, customer: int, lines: list[tuple[str, int, str]], **extra) -> None:
    data = OrderInput(data=order_for(external_id, who(customer), lines, **extra))
    assert data.is_valid(), data.errors
    order_ingest(data=data.validated_data)


def account_of(program, customer: int) -> LoyaltyAccount:
    return LoyaltyAccount.objects.get(program=program, customer__external_id=f"C-{customer}")


def redeem(program, customer: User, points: int, order_id: str) -> str:
    """One checkout's redemption: "ok", or the code it was refused with."""
    try:
        points_redeem(customer_id=customer.pk, program_id=program.pk, points=points, order_id=order_id)
    except Conflict as refused:
        return refused.code
    return "ok"


def assert_ledger_adds_up(account: LoyaltyAccount) -> None:
    """Balance = sum of the transactions = sum of the open lots, and each row's balance_after
    follows the one before it (rows are numbered under the account's lock)."""
    account.refresh_from_db()
    running = 0
    for row in account.transactions.order_by("id"):
        running += row.points
        assert row.balance_after == running >= 0, row
    lots = account.transactions.filter(points__gt=0).aggregate(s=Sum("remaining"))["s"] or 0
    assert account.balance == running == lots
    assert balances_check() == []


def test_the_same_order_posted_ten_times_at_once_earns_once(integration_key):
    program = program_make(rules=[*RATE, BONUS])
    body = order_for("O-1", who(1), [("A", 2, "150.00"), ("B", 1, "25.00")])

    responses = run_concurrently(10, lambda i: client_with_key(integration_key).post(ORDERS, body, format="json"))

    assert [r.status_code for r in responses] == [201] * 10, [r.content for r in responses]
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 9
    account = account_of(program, 1)
    earns = list(account.transactions.filter(kind=TransactionKind.EARN).values_list("rule__rule_type", "points"))
    assert sorted(earns) == [("FIRST_PURCHASE_BONUS", 50), ("POINTS_PER_RUPEE", 325)]
    assert account.balance == account.lifetime_earned == 375
    assert User.objects.filter(external_id="C-1").count() == 1
    assert_ledger_adds_up(account)


def test_fifty_redemptions_at_once_never_take_the_balance_below_zero():
    program = program_make(rules=RATE)
    for n in range(4):  # 1000 points in four lots of 250
        ingest(f"O-{n}", 1, [("A", 1, "250.00")])
    customer = User.objects.get(external_id="C-1")

    results = run_concurrently(50, lambda i: redeem(program, customer, 30, f"R-{i}"))

    assert results.count("ok") == 1000 // 30 == 33
    assert set(results) - {"ok"} == {"insufficient_points"}
    account = account_of(program, 1)
    assert account.balance == 1000 - 33 * 30 == 10
    assert account.transactions.filter(kind=TransactionKind.REDEEM).count() == 33
    # Spent oldest first: the first three lots are empty, the last holds what is left.
    lots = list(
        account.transactions.filter(kind=TransactionKind.EARN).order_by("id").values_list("remaining", flat=True)
    )
    assert lots == [0, 0, 0, 10]
    assert_ledger_adds_up(account)


def test_twenty_redemptions_of_the_same_order_at_once_redeem_once():
    program = program_make(rules=RATE)
    ingest("O-1", 1, [("A", 1, "1000.00")])
    customer = User.objects.get(external_id="C-1")

    def attempt(i: int):
        outcome = points_redeem(customer_id=customer.pk, program_id=program.pk, points=100, order_id="CHECKOUT-1")
        return outcome.created, outcome.transaction.pk

    results = run_concurrently(20, attempt)

    assert sum(created for created, _ in results) == 1
    assert len({pk for _, pk in results}) == 1  # the retries answer the first redemption
    account = account_of(program, 1)
    assert account.transactions.filter(kind=TransactionKind.REDEEM).count() == 1
    assert account.balance == 900
    assert_ledger_adds_up(account)


def test_orders_earning_while_redemptions_spend_keep_the_balance_equal_to_the_ledger():
    program = program_make(rules=[*RATE, BONUS])
    ingest("O-0", 1, [("A", 1, "450.00")])  # 450 + 50 first purchase
    customer = User.objects.get(external_id="C-1")

    def earn_or_spend(i: int) -> str:
        if i % 2:
            return redeem(program, customer, 80, f"R-{i}")
        ingest(f"O-{i + 1}", 1, [("A", 1, "100.00")], placed_at=f"2025-06-{i // 2 + 3:02d}T10:00:00Z")
        return "earned"

    results = run_concurrently(40, earn_or_spend)

    spent = 80 * results.count("ok")
    assert set(results) <= {"earned", "ok", "insufficient_points"}
    account = account_of(program, 1)
    assert account.transactions.filter(kind=TransactionKind.EARN).count() == 1 + 1 + 20  # bonus once
    assert account.lifetime_earned == 500 + 20 * 100
    assert account.balance == 500 + 20 * 100 - spent
    assert account.transactions.filter(kind=TransactionKind.REDEEM).aggregate(s=Sum("points"))["s"] == -spent
    assert_ledger_adds_up(account)


def test_two_customers_first_orders_at_once_create_each_account_once():
    program = program_make(rules=[*RATE, BONUS])

    run_concurrently(20, lambda i: ingest(f"O-{i}", i % 2, [("A", 1, "10.00")]))

    for customer in (0, 1):
        account = account_of(program, customer)
        assert (
            account.transactions.filter(kind=TransactionKind.EARN, rule__rule_type="FIRST_PURCHASE_BONUS").count() == 1
        )
        assert account.balance == 10 * 10 + 50
        assert_ledger_adds_up(account)
    assert LoyaltyAccount.objects.filter(program=program).count() == 2


def test_concurrent_batches_sharing_customers_do_not_deadlock(integration_key):
    program = program_make(rules=[*RATE, BONUS])
    customers = 10

    def batch(i: int) -> dict:
        # Half the batches name the customers in one order, half in the other.
        order = list(range(customers)) if i % 2 else list(reversed(range(customers)))
        bodies = [
            order_for(f"B{i}-{n}-{c}", who(c), [("A", 1, f"{c + 1}.00"), ("B", 1, "1.00")])
            for n in range(3)
            for c in order
        ]
        response = client_with_key(integration_key).post(BULK, {"orders": bodies}, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    results = run_concurrently(6, batch)

    assert [(r["created"], r["rejected"]) for r in results] == [(30, 0)] * 6
    for c in range(customers):
        account = account_of(program, c)
        assert account.transactions.filter(kind=TransactionKind.EARN).count() == 6 * 3 + 1  # and the bonus once
        assert account.balance == 6 * 3 * (c + 2) + 50
        assert_ledger_adds_up(account)
    assert User.objects.filter(external_id__startswith="C-").count() == customers


def test_expiry_running_while_customers_redeem_and_orders_are_refunded_keeps_the_ledger_whole():
    program = program_make(rules=RATE, settings={"expiry_days": 30, "min_redeem_points": 1})
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for c in (1, 2):
        for n in range(3):  # expired ten days ago (not yet by a run): 3 x 100 points each
            placed = (now - dt.timedelta(days=40)).isoformat()
            ingest(f"OLD-{c}-{n}", c, [("A", 1, "100.00")], placed_at=placed, status="PAID")
        for n in range(3):  # still good: 3 x 50 points each
            placed = (now - dt.timedelta(days=5)).isoformat()
            ingest(f"NEW-{c}-{n}", c, [("A", 1, "50.00")], placed_at=placed, status="PAID")
    customers = {c: User.objects.get(external_id=f"C-{c}") for c in (1, 2)}
    run_at = now  # the expiry run's time (redemptions and refunds expire what is past it too)

    def act(i: int):
        c = 1 + i % 2
        if i < 2:
            return points_expire(now=run_at).points
        if i < 8:  # one refund of each new order
            return order_status_change(external_id=f"NEW-{c}-{(i - 2) // 2}", status="REFUNDED").replayed
        return redeem(program, customers[c], 40, f"R-{i}")

    results = run_concurrently(24, act)

    assert set(results[8:]) <= {"ok", "insufficient_points"}
    assert not PointsTransaction.objects.filter(remaining__gt=0, expires_at__lte=run_at).exists()
    for c in (1, 2):
        account = account_of(program, c)
        assert_ledger_adds_up(account)
        # Whatever came first: each expired lot written off once, each refunded order's 50
        # points taken back or recorded as unrecovered.
        expired = account.transactions.filter(kind=TransactionKind.EXPIRE)
        assert expired.count() == len(set(expired.values_list("reverses_id", flat=True)))
        for n in range(3):
            reversal = account.transactions.get(kind=TransactionKind.REVERSAL, reference=f"NEW-{c}-{n}")
            assert -reversal.points + reversal.detail["unrecovered"] == 50


def test_a_release_while_customers_redeem_and_another_pending_order_is_refunded_spends_no_pending_point():
    program = program_make(
        rules=RATE, settings={"hold_until_fulfilled": True, "return_window_days": 1, "min_redeem_points": 1}
    )
    ingest("SHIPS", 1, [("A", 1, "500.00")], status="PAID")  # 500 pending until fulfilled plus a day
    ingest("RETURNED", 1, [("A", 1, "300.00")], status="PAID")  # 300 pending, refunded below
    customer = User.objects.get(external_id="C-1")
    points_adjust(customer=customer, program_id=program.pk, points=200, reason="welcome", by=None)
    fulfilled_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)  # its window is over: released at once

    def act(i: int):
        if i == 0:
            return order_status_change(external_id="SHIPS", status="FULFILLED", occurred_at=fulfilled_at).replayed
        if i == 1:
            return order_status_change(external_id="RETURNED", status="REFUNDED").replayed
        return redeem(program, customer, 100, f"R-{i}")

    results = run_concurrently(12, act)

    assert results[:2] == [False, False], results
    spent = results[2:].count("ok")
    assert set(results[2:]) <= {"ok", "insufficient_points"}
    assert 2 <= spent <= 7  # the 200 available at once, up to the 500 released meanwhile
    account = account_of(program, 1)
    assert_ledger_adds_up(account)
    # The refunded order's pending points were all there to take back, whatever came first.
    reversal = account.transactions.get(kind=TransactionKind.REVERSAL, reference="RETURNED")
    assert (reversal.points, reversal.detail["unrecovered"]) == (-300, 0)
    assert account.balance == 200 + 500 - 100 * spent
    assert balances_check() == []


# --- The lock order of a cancel against an ingest -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_cancelling_an_order_that_redeemed_in_one_program_and_earned_in_another_does_not_deadlock_an_ingest():
    """The documented lock order is accounts by id. Cancelling O-1 gives back its redemption
    first (locking the later account, program B's), then takes back its earnings (waiting for
    the earlier one, program A's); a new order of the same customer locks A then B."""
    from commerce.api.serializers import OrderInput
    from commerce.services.orders import order_ingest, order_status_change
    from loyalty import selectors

    selectors._SNAPSHOT.forget()
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
    selectors._SNAPSHOT.forget()
