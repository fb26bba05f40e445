"""The loyalty report figures (loyalty/reports.py) against hand-computed ledgers."""

import datetime as dt
from decimal import Decimal

import pytest

from commerce.api.serializers import OrderInput
from commerce.services.orders import order_ingest, order_status_change
from lms.reports import DateRange, site_today
from loyalty.models import LoyaltyAccount
from loyalty.reports import liability_rows, outstanding, points_by_rule, points_flow, tier_mix
from loyalty.services.ledger import points_redeem
from loyalty.tests.factories import order_for, program_make

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ASHA = {"external_id": "C-1", "email": "asha@example.com"}
RAVI = {"external_id": "C-2", "email": "ravi@example.com"}


def ingest(external_id: str, amount: str, days_ago: int, who=ASHA) -> None:
    placed = (NOW - dt.timedelta(days=days_ago)).isoformat()
    data = OrderInput(data=order_for(external_id, who, [("A", 1, amount)], placed_at=placed, status="PAID"))
    assert data.is_valid(), data.errors
    order_ingest(data=data.validated_data)


@pytest.fixture
def program():
    # 1 point per rupee, plus 50 on a first purchase; a point is worth 0.25; Gold from 500 points.
    program = program_make(
        rules=[
            {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": Decimal("1")},
            {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 50},
        ],
        tiers=[{"name": "Gold", "threshold": Decimal("500")}],
        settings={"expiry_days": 30, "point_value": Decimal("0.25")},
    )
    ingest("LAPSED", "100.00", days_ago=40)  # Asha: 100 + 50 bonus, lapse 10 days ago
    ingest("LIVE", "600.00", days_ago=5)  # Asha: 600
    ingest("RAVI-1", "200.00", days_ago=2, who=RAVI)  # Ravi: 200 + 50 bonus
    ingest("RAVI-2", "80.00", days_ago=1, who=RAVI)  # Ravi: 80, refunded below
    asha = LoyaltyAccount.objects.get(program=program, customer__email=ASHA["email"])
    points_redeem(
        customer_id=asha.customer_id, program_id=program.pk, points=100, order_id="SPEND"
    )  # expires 150 first
    order_status_change(external_id="RAVI-2", status="REFUNDED")
    return program


def test_the_flow_over_the_last_30_days(program):
    span = DateRange.last_days(30)

    flow = points_flow(since=span.since, until=span.until, program=program)

    # The lapsed order's 150 were earned 40 days ago: outside; their expiry (now) inside.
    assert (flow.earned, flow.redeemed, flow.expired, flow.reversed, flow.adjusted) == (930, 100, 150, 80, 0)


def test_points_by_rule_and_the_outstanding_liability(program):
    span = DateRange.last_days(90)

    by_rule = [(row.rule, row.points) for row in points_by_rule(program=program, since=span.since, until=span.until)]
    now = outstanding(program=program)

    assert by_rule == [("Points per rupee spent", 980), ("First purchase bonus", 100)]
    # Asha 750 - 150 expired - 100 spent = 500; Ravi 330 - 80 reversed = 250.
    assert (now.members, now.points, now.value) == (2, 750, Decimal("187.50"))


def test_tier_mix_counts_members_per_tier(program):
    assert tier_mix(program=program) == [("No tier", 1), ("Gold", 1)]


def test_the_liability_as_of_a_past_day_reads_the_ledger_then(program):
    three_days_ago = DateRange(first=site_today() - dt.timedelta(days=3), last=site_today() - dt.timedelta(days=3))
    rows = list(liability_rows(program=program, until=three_days_ago.until))
    today = list(liability_rows(program=program, until=DateRange.last_days(1).until))

    # Three days ago: only Asha, with both orders' points and nothing spent or expired yet.
    assert [row[1:] for row in rows] == [("asha@example.com", "C-1", 750, Decimal("187.50"))]
    assert [row[1:] for row in today] == [
        ("asha@example.com", "C-1", 500, Decimal("125.00")),
        ("ravi@example.com", "C-2", 250, Decimal("62.50")),
    ]
