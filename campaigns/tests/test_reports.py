"""The campaigns' report figures (campaigns/reports.py) against hand-computed data."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.engine import types as t
from campaigns.models import CampaignKind, RedemptionStatus, RefusalCount
from campaigns.refusals import refusals_count
from campaigns.reports import (
    campaign_figures,
    live_counts_by_kind,
    redemption_rows,
    redemption_windows,
    redemptions_daily,
    refusal_reasons,
    revenue_split,
    top_campaigns,
)
from campaigns.tests.factories import CampaignFactory, CouponCodeFactory, redemption_make
from commerce.models import OrderStatus
from commerce.tests.factories import OrderFactory, ProductFactory
from lms.reports import DateRange, site_today
from segments.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
D = Decimal


def _order(external_id, customer, total, *, status=OrderStatus.PAID, placed_at=None, refunded="0.00"):
    order = OrderFactory(
        external_id=external_id, customer=customer, status=status, placed_at=placed_at or timezone.now(),
        lines=[(ProductFactory(), 1, D(total))],
    )  # fmt: skip
    if refunded != "0.00":
        type(order).objects.filter(pk=order.pk).update(refunded_total=D(refunded))
    return order


@pytest.fixture
def world():
    a, b = CampaignFactory(name="Spring"), CampaignFactory(name="Autumn")
    c1, c2, c3 = CustomerFactory(), CustomerFactory(), CustomerFactory()
    now = timezone.now()
    # With Spring: counted.
    _order("O1", c1, "1000.00")
    redemption_make(customer=c1, campaign=a, amount="100.00", order_id="O1")
    # With Spring, but cancelled: neither revenue nor (voided) a redemption.
    _order("O2", c2, "500.00", status=OrderStatus.CANCELLED)
    voided = redemption_make(customer=c2, campaign=a, amount="50.00", order_id="O2")
    type(voided).objects.filter(pk=voided.pk).update(status=RedemptionStatus.VOIDED)
    type(voided.order_redemption).objects.filter(pk=voided.order_redemption_id).update(status=RedemptionStatus.VOIDED)
    # Without a campaign: a partial refund counts net, a full refund not at all.
    _order("O3", c3, "800.00", status=OrderStatus.FULFILLED, refunded="200.00")
    _order("O4", c1, "300.00", status=OrderStatus.REFUNDED, refunded="300.00")
    # Autumn, twice by the same customer: one order 3 days ago, one 40 days ago (outside 30 days).
    _order("O5", c2, "2000.00", placed_at=now - dt.timedelta(days=3))
    redemption_make(customer=c2, campaign=b, amount="300.00", order_id="O5", redeemed_at=now - dt.timedelta(days=3))
    _order("O6", c2, "700.00", placed_at=now - dt.timedelta(days=40))
    redemption_make(customer=c2, campaign=b, amount="70.00", order_id="O6", redeemed_at=now - dt.timedelta(days=40))
    return {"a": a, "b": b, "customers": (c1, c2, c3)}


def test_the_windows_count_standing_redemptions_and_their_cost(world):
    windows = {w.days: (w.redemptions, w.discount) for w in redemption_windows()}

    assert windows == {1: (1, D("100.00")), 7: (2, D("400.00")), 30: (2, D("400.00"))}


def test_revenue_splits_counted_orders_by_a_standing_redemption(world):
    split = revenue_split(span=DateRange.last_days(30))

    assert (split["with"].orders, split["with"].revenue) == (2, D("3000.00"))  # O1 + O5
    assert (split["without"].orders, split["without"].revenue) == (1, D("600.00"))  # O3 net of its refund
    assert split["with"].average == D("1500.00")
    assert split["without"].average == D("600.00")


def test_top_campaigns_rank_by_redemptions_or_cost(world):
    span = DateRange.last_days(30)
    by_cost = top_campaigns(span=span, by="cost")
    by_count = top_campaigns(span=span, by="redemptions")

    assert [(r.name, r.redemptions, r.cost) for r in by_cost] == [
        ("Autumn", 1, D("300.00")),
        ("Spring", 1, D("100.00")),
    ]
    assert [r.name for r in by_count] == ["Autumn", "Spring"]  # a tie on count goes to the costlier


def test_one_campaigns_figures(world):
    CouponCodeFactory(campaign=world["a"], uses=1)
    CouponCodeFactory(campaign=world["a"])
    CouponCodeFactory(campaign=world["a"])

    figures = campaign_figures(campaign=world["a"], span=DateRange.last_days(30))

    assert (figures.redemptions, figures.discount, figures.customers) == (1, D("100.00"), 1)
    assert (figures.orders.orders, figures.orders.revenue, figures.orders.average) == (1, D("1000.00"), D("1000.00"))
    assert (figures.orders_without.orders, figures.orders_without.average) == (1, D("600.00"))
    assert (figures.codes_used, figures.codes_unused) == (1, 2)


def test_autumn_over_90_days_counts_both_orders_and_one_customer(world):
    figures = campaign_figures(campaign=world["b"], span=DateRange.last_days(90))

    assert (figures.redemptions, figures.discount, figures.customers) == (2, D("370.00"), 1)
    assert (figures.orders.orders, figures.orders.revenue) == (2, D("2700.00"))


def test_days_are_the_sites_days_at_their_edges(settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    campaign, customer = CampaignFactory(), CustomerFactory()
    # 18:30 UTC is midnight in Kolkata: the first is the 1st's last minute, the second the 2nd's first.
    redemption_make(customer=customer, campaign=campaign, amount="1.00", order_id="A",
                    redeemed_at=dt.datetime(2026, 3, 1, 18, 29, tzinfo=dt.UTC))  # fmt: skip
    redemption_make(customer=customer, campaign=campaign, amount="2.00", order_id="B",
                    redeemed_at=dt.datetime(2026, 3, 1, 18, 30, tzinfo=dt.UTC))  # fmt: skip
    redemption_make(customer=customer, campaign=campaign, amount="4.00", order_id="C",
                    redeemed_at=dt.datetime(2026, 3, 2, 18, 29, 59, tzinfo=dt.UTC))  # fmt: skip

    daily = redemptions_daily(span=DateRange(first=dt.date(2026, 3, 1), last=dt.date(2026, 3, 3)))
    only_2nd = campaign_figures(campaign=campaign, span=DateRange(first=dt.date(2026, 3, 2), last=dt.date(2026, 3, 2)))

    assert [(d.day.day, d.redemptions, d.discount) for d in daily] == [
        (1, 1, D("1.00")), (2, 2, D("6.00")), (3, 0, D("0.00")),
    ]  # fmt: skip
    assert only_2nd.discount == D("6.00")


def test_live_counts_split_campaigns_and_programs():
    CampaignFactory(), CampaignFactory(status="INACTIVE")
    CampaignFactory(kind=CampaignKind.LOYALTY_PROGRAM)

    assert live_counts_by_kind(at=timezone.now()) == {"campaigns": 1, "programs": 1}


def test_refusal_reasons_add_todays_live_counters_to_the_rolled_up_days():
    campaign = CampaignFactory()
    today = site_today()
    RefusalCount.objects.create(campaign=campaign, day=today - dt.timedelta(days=2), reason="min_cart", count=5)
    RefusalCount.objects.create(campaign=campaign, day=today - dt.timedelta(days=40), reason="geo", count=9)
    RefusalCount.objects.create(campaign=campaign, day=today, reason="geo", count=1)  # an earlier rollup of today
    rejected = t.Rejected(reason="geo", message="", campaign_id=campaign.pk)
    refusals_count([rejected, rejected], at=timezone.now())

    rows = refusal_reasons(campaign=campaign, span=DateRange.last_days(30))

    assert [(r.reason, r.count) for r in rows] == [("min_cart", 5), ("geo", 2)]  # today's live 2, not 2 + 1
    assert rows[0].label == "Below the minimum cart"


def test_the_csv_rows_are_the_ranges_redemptions_in_site_time(world):
    rows = list(redemption_rows(campaign=world["a"], span=DateRange.last_days(1)))

    assert [row[1:] for row in rows] == [
        ("O1", world["customers"][0].email, "", D("100.00"), D("0.00"), "redeemed"),
        ("O2", world["customers"][1].email, "", D("50.00"), D("0.00"), "voided"),
    ]
    assert rows[0][0].endswith("+05:30")
