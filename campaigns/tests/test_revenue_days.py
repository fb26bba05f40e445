"""The daily revenue rollup (campaigns/revenue_days.py) against the live query on the same data."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns.models import OrderRedemption, RevenueDay
from campaigns.reports import revenue_split
from campaigns.revenue_days import live_totals, revenue_days_rollup, totals
from campaigns.services.redemptions import redemption_void
from campaigns.tests.factories import CampaignFactory, redemption_make
from commerce.models import Order, OrderStatus
from commerce.services.orders.status import order_status_change
from commerce.tests.factories import OrderFactory, ProductFactory
from lms.celery import app
from lms.reports import DateRange, day_start, site_today
from segments.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
D = Decimal


def _placed(days_ago: int) -> dt.datetime:
    return day_start(site_today() - dt.timedelta(days=days_ago)) + dt.timedelta(hours=12)


@pytest.fixture
def world():
    """Orders over the last five days: with a standing checkout, without, cancelled, voided."""
    customer, campaign = CustomerFactory(), CampaignFactory(name="Autumn")
    for n, (days_ago, total, status, with_campaign) in enumerate(
        [
            (4, "1000.00", OrderStatus.PAID, True),
            (4, "400.00", OrderStatus.PAID, False),
            (3, "700.00", OrderStatus.FULFILLED, True),
            (3, "900.00", OrderStatus.CANCELLED, False),
            (2, "250.00", OrderStatus.PAID, False),
            (1, "300.00", OrderStatus.PAID, True),
            (0, "150.00", OrderStatus.PAID, True),  # today: always live
            (0, "80.00", OrderStatus.PLACED, False),
        ]
    ):
        OrderFactory(
            external_id=f"R{n}", customer=customer, status=status, placed_at=_placed(days_ago),
            lines=[(ProductFactory(), 1, D(total))],
        )  # fmt: skip
        if with_campaign:
            redemption_make(customer=customer, campaign=campaign, order_id=f"R{n}", amount="10.00")
    # Written an hour ago: older than a run's look-back, so only what changes later is "changed".
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    Order.objects.update(updated_at=an_hour_ago)
    OrderRedemption.objects.update(created_at=an_hour_ago)
    return campaign


def _rows():
    return list(
        RevenueDay.objects.order_by("day").values_list("day", "orders", "revenue", "orders_with", "revenue_with")
    )


def test_a_rollup_reads_the_same_as_the_live_query(world):
    span = DateRange.last_days(7)
    live = live_totals(span=span)

    assert revenue_days_rollup() == 4  # four days ago to yesterday
    assert totals(span=span) == live
    assert (live.orders, live.revenue, live.orders_with, live.revenue_with) == (7, D("2880.00"), 4, D("2150.00"))
    assert site_today() not in [row[0] for row in _rows()]  # today stays live
    split = revenue_split(span=DateRange.last_days(3))  # two rolled days and today
    assert (split["with"].orders, split["with"].revenue) == (2, D("450.00"))
    assert (split["without"].orders, split["without"].revenue) == (2, D("330.00"))


def test_rerunning_the_rollup_changes_nothing(world):
    revenue_days_rollup()
    first = _rows()

    revenue_days_rollup()
    revenue_days_rollup(now=timezone.now() + dt.timedelta(minutes=5))

    assert _rows() == first


def test_a_refund_and_a_void_after_the_day_was_rolled_show_at_the_next_run(world):
    span = DateRange.last_days(7)
    revenue_days_rollup()

    order_status_change(external_id="R0", status=OrderStatus.REFUNDED)  # 1000.00, four days ago, with a campaign
    redemption_void(order_id="R2", reason="cancelled at the till")  # 700.00 keeps counting, now without
    revenue_days_rollup(now=timezone.now() + dt.timedelta(minutes=5))

    assert totals(span=span) == live_totals(span=span)
    figures = totals(span=span)
    assert (figures.orders, figures.revenue, figures.orders_with, figures.revenue_with) == (
        6,
        D("1880.00"),
        2,
        D("450.00"),
    )


def test_a_day_open_at_one_run_is_rolled_whole_at_the_next_day_s_run(world):
    revenue_days_rollup()
    tomorrow = timezone.now() + dt.timedelta(days=1)

    revenue_days_rollup(now=tomorrow)  # nothing changed: today became yesterday

    today = [row for row in _rows() if row[0] == site_today()]
    assert today == [(site_today(), 2, D("230.00"), 1, D("150.00"))]
    span = DateRange.last_days(7, today=site_today(tomorrow))
    assert totals(span=span) == live_totals(span=span)


def test_no_orders_rolls_nothing_and_reads_live():
    assert revenue_days_rollup() == 0
    assert RevenueDay.objects.count() == 0
    assert totals(span=DateRange.last_days(30)).orders == 0


def test_the_beat_runs_registered_tasks_including_the_revenue_rollup():
    schedule = settings.CELERY_BEAT_SCHEDULE
    app.loader.import_default_modules()

    assert schedule["campaigns-revenue-rollup"]["task"] == "campaigns.tasks.revenue_days_rollup_task"
    assert {entry["task"] for entry in schedule.values()} <= set(app.tasks)
