"""Focused ledger rules: points past their date, and reversals of points that expired."""

import datetime as dt

import pytest

from commerce.api.serializers import OrderInput
from commerce.services.orders import order_ingest, order_status_change
from lms.errors import Conflict
from loyalty.models import LoyaltyAccount, PointsTransaction
from loyalty.services.ledger import points_redeem
from loyalty.services.upkeep import balances_check, points_expire
from loyalty.tests.factories import order_for, program_make

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ASHA = {"external_id": "C-1", "email": "asha@example.com"}


def ingest(external_id: str, amount: str, days_ago: int) -> None:
    placed = (NOW - dt.timedelta(days=days_ago)).isoformat()
    data = OrderInput(data=order_for(external_id, ASHA, [("A", 1, amount)], placed_at=placed, status="PAID"))
    assert data.is_valid(), data.errors
    order_ingest(data=data.validated_data)


def test_points_past_their_date_are_never_spent_even_before_the_nightly_run():
    program = program_make(settings={"expiry_days": 30, "min_redeem_points": 1})
    ingest("LAPSED", "100.00", days_ago=40)  # its 100 points expired ten days ago; no run since
    ingest("LIVE", "50.00", days_ago=5)
    customer = LoyaltyAccount.objects.get(program=program).customer

    with pytest.raises(Conflict) as refused:
        points_redeem(customer_id=customer.pk, program_id=program.pk, points=120, order_id="TOO-MUCH")
    spent = points_redeem(customer_id=customer.pk, program_id=program.pk, points=40, order_id="SPEND")

    assert refused.value.code == "insufficient_points"
    account = LoyaltyAccount.objects.get(program=program)
    assert account.balance == 10
    # The redemption expired the lapsed lot first (one EXPIRE row), then spent the live one.
    kinds = list(account.transactions.order_by("id").values_list("kind", "points", "remaining"))
    assert kinds == [("EARN", 100, 0), ("EARN", 50, 10), ("EXPIRE", -100, None), ("REDEEM", -40, None)]
    assert spent.transaction.balance_after == 10
    assert points_expire().points == 0  # the nightly run finds nothing left to do
    assert balances_check() == []


def test_refunding_an_order_whose_points_expired_takes_nothing_from_other_points():
    program = program_make(settings={"expiry_days": 30})
    ingest("OLD", "100.00", days_ago=40)
    points_expire()
    ingest("NEW", "100.00", days_ago=1)

    order_status_change(external_id="OLD", status="REFUNDED")

    account = LoyaltyAccount.objects.get(program=program)
    assert account.balance == 100  # the new order's points stay: the old ones were gone already
    reversal = PointsTransaction.objects.get(kind="REVERSAL", reference="OLD")
    assert (reversal.points, reversal.detail["due"], reversal.detail["asked"]) == (0, 100, 0)
    assert account.lifetime_earned == 100  # the refunded order's points no longer count for the tier
    assert balances_check() == []
