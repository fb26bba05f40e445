"""The campaigns' figures for the console's dashboard and campaign report: grouped SQL, one
query per panel, whatever the number of rows. Days are the site's (``lms.reports``).

Definitions the figures share:
- a redemption counts while REDEEMED (a voided one gave nothing); its cost is what it took off
  the items and the shipping; it falls on the day it was redeemed;
- an order counts as ``Order.objects.counted()`` says (cancelled and fully refunded orders are
  no revenue); its revenue is its total less what was refunded of it; it falls on the day it
  was placed; it is "with a campaign" when a redemption of it stands (REDEEMED).
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from campaigns import revenue_days
from campaigns.engine.types import REASONS
from campaigns.models import (
    Campaign,
    CampaignKind,
    CouponCode,
    Redemption,
    RedemptionStatus,
    RefusalCount,
)
from campaigns.refusals import live_counts
from commerce.models import Order
from lms.db_router import replica_reads
from lms.reports import DateRange, site_today, site_zone

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=14, decimal_places=2)
COST = F("amount") + F("shipping_amount")
REVENUE = F("total") - F("refunded_total")


def _sum(expression, **filters) -> Coalesce:
    condition = Q(**filters) if filters else None
    return Coalesce(Sum(expression, filter=condition, output_field=MONEY), Value(ZERO), output_field=MONEY)


def _standing() -> QuerySet[Redemption]:
    return Redemption.objects.filter(status=RedemptionStatus.REDEEMED)


# --- The dashboard -----------------------------------------------------------------------------


def live_counts_by_kind(*, at: dt.datetime) -> dict[str, int]:
    """Live discount campaigns and live loyalty programs at ``at``."""
    rows = dict(Campaign.objects.active(at).order_by().values_list("kind").annotate(n=Count("id")))
    programs = rows.pop(CampaignKind.LOYALTY_PROGRAM, 0)
    return {"campaigns": sum(rows.values()), "programs": programs}


@dataclass(frozen=True)
class Window:
    label: str
    days: int
    redemptions: int
    discount: Decimal


WINDOWS = (("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30))


def redemption_windows(*, today: dt.date | None = None) -> list[Window]:
    """Redemptions and discount given today, in the last 7 and the last 30 days (today
    included): one query."""
    today = today or site_today()
    starts = {days: DateRange.last_days(days, today=today).since for _, days in WINDOWS}
    until = DateRange(first=today, last=today).until
    figures = (
        _standing()
        .filter(redeemed_at__gte=min(starts.values()), redeemed_at__lt=until)
        .aggregate(
            **{f"n{days}": Count("id", filter=Q(redeemed_at__gte=since)) for days, since in starts.items()},
            **{f"d{days}": _sum(COST, redeemed_at__gte=since) for days, since in starts.items()},
        )
    )
    return [Window(label, days, figures[f"n{days}"], figures[f"d{days}"]) for label, days in WINDOWS]


@dataclass(frozen=True)
class Split:
    orders: int
    revenue: Decimal

    @property
    def average(self) -> Decimal | None:
        return (self.revenue / self.orders).quantize(Decimal("0.01")) if self.orders else None


def revenue_split(*, span: DateRange) -> dict[str, Split]:
    """Counted orders placed in ``span`` and their revenue, with a campaign and without: the
    closed days from the daily rollup, the days after its last run live (``campaigns.revenue_days``)."""
    figures = revenue_days.totals(span=span)
    return {
        "with": Split(figures.orders_with, figures.revenue_with),
        "without": Split(figures.orders - figures.orders_with, figures.revenue - figures.revenue_with),
    }


@dataclass(frozen=True)
class Day:
    day: dt.date
    redemptions: int
    discount: Decimal


def redemptions_daily(*, span: DateRange, campaign_id: int | None = None) -> list[Day]:
    """Redemptions and discount per site day of ``span`` (every day, zero when none)."""
    rows = _standing().filter(redeemed_at__gte=span.since, redeemed_at__lt=span.until)
    if campaign_id is not None:
        rows = rows.filter(campaign_id=campaign_id)
    found = {
        row["day"]: row
        for row in rows.annotate(day=TruncDate("redeemed_at", tzinfo=site_zone()))
        .order_by()
        .values("day")
        .annotate(n=Count("id"), cost=_sum(COST))
    }
    return [Day(day, found[day]["n"], found[day]["cost"]) if day in found else Day(day, 0, ZERO) for day in span.days]


@dataclass(frozen=True)
class Ranked:
    campaign_id: int
    name: str
    redemptions: int
    cost: Decimal


def top_campaigns(*, span: DateRange, by: str, limit: int = 5) -> list[Ranked]:
    """The campaigns with the most redemptions (``by="redemptions"``) or cost (``"cost"``) in ``span``."""
    order = {"redemptions": ("-n", "-cost"), "cost": ("-cost", "-n")}[by]
    rows = (
        _standing()
        .filter(redeemed_at__gte=span.since, redeemed_at__lt=span.until)
        .order_by()
        .values("campaign_id", "campaign__name")
        .annotate(n=Count("id"), cost=_sum(COST))
        .order_by(*order, "campaign_id")[:limit]
    )
    return [Ranked(r["campaign_id"], r["campaign__name"], r["n"], r["cost"]) for r in rows]


# --- One campaign --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignFigures:
    redemptions: int
    discount: Decimal
    customers: int
    orders: Split
    orders_without: Split
    codes_used: int
    codes_unused: int


def campaign_figures(*, campaign: Campaign, span: DateRange) -> CampaignFigures:
    """One campaign's figures over ``span`` (five queries)."""
    redeemed = _standing().filter(campaign=campaign, redeemed_at__gte=span.since, redeemed_at__lt=span.until)
    own = redeemed.aggregate(n=Count("id"), cost=_sum(COST), customers=Count("customer_id", distinct=True))
    with_it = Exists(
        Redemption.objects.filter(order_id=OuterRef("external_id"), campaign=campaign, status=RedemptionStatus.REDEEMED)
    )
    orders = (
        Order.objects.counted()
        .filter(with_it, placed_at__gte=span.since, placed_at__lt=span.until)
        .aggregate(n=Count("id"), revenue=_sum(REVENUE))
    )
    codes = CouponCode.objects.filter(campaign=campaign).aggregate(
        used=Count("id", filter=Q(uses__gt=0)), unused=Count("id", filter=Q(uses=0))
    )
    return CampaignFigures(
        redemptions=own["n"],
        discount=own["cost"],
        customers=own["customers"],
        orders=Split(orders["n"], orders["revenue"]),
        orders_without=revenue_split(span=span)["without"],
        codes_used=codes["used"],
        codes_unused=codes["unused"],
    )


# Short words for the charts and tables (the engine's REASONS are the long explanations).
REASON_LABELS = {
    "not_started": "Not started yet",
    "expired": "Ended",
    "inactive": "Switched off",
    "outside_days": "Wrong day of the week",
    "outside_hours": "Wrong time of day",
    "currency": "Other currency",
    "geo": "Outside its locations",
    "audience": "New/existing customer rule",
    "segment": "Not in its segments",
    "customer_required": "Guest cart",
    "min_cart": "Below the minimum cart",
    "no_matching_items": "No matching items",
    "min_quantity": "Too few items",
    "nothing_to_discount": "Nothing left to discount",
    "usage_limit": "Used up",
    "customer_limit": "Customer's uses used up",
    "budget_exhausted": "Budget used up",
    "not_stackable": "Another campaign applied",
    "code_used": "Code already used",
    "code_not_yours": "Someone else's code",
}


@dataclass(frozen=True)
class Refusals:
    reason: str
    words: str
    count: int

    @property
    def label(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason.replace("_", " ").capitalize())


def refusal_reasons(*, campaign: Campaign, span: DateRange, today: dt.date | None = None) -> list[Refusals]:
    """Why carts were refused this campaign in ``span``, most frequent first: the rolled-up
    days, and today's live counters (today's rolled-up rows when Redis is down)."""
    today = today or site_today()
    rows = RefusalCount.objects.filter(campaign=campaign, day__gte=span.first, day__lte=span.last)
    live = live_counts(today) if span.first <= today <= span.last else None
    if live is not None:
        rows = rows.exclude(day=today)
    totals = dict(rows.order_by().values_list("reason").annotate(n=Sum("count")))
    for campaign_id, reason, count in live or ():
        if campaign_id == campaign.pk:
            totals[reason] = totals.get(reason, 0) + count
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return [Refusals(reason, REASONS.get(reason, reason.replace("_", " ")), count) for reason, count in ranked]


REDEMPTIONS_CSV_HEADER = (
    "redeemed_at",
    "order_id",
    "customer_email",
    "code",
    "discount_on_items",
    "discount_on_shipping",
    "status",
)


@replica_reads()
def redemption_rows(*, campaign: Campaign, span: DateRange) -> Iterator[tuple]:
    """The campaign's redemptions in ``span`` (voided ones too, marked), oldest first, streamed
    (from the replica when there is one)."""
    zone = site_zone()
    rows = (
        Redemption.objects.filter(campaign=campaign, redeemed_at__gte=span.since, redeemed_at__lt=span.until)
        .order_by("redeemed_at", "id")
        .values_list("redeemed_at", "order_id", "customer__email", "code", "amount", "shipping_amount", "status")
    )
    for at, order_id, email, code, amount, shipping, status in rows.iterator(chunk_size=2000):
        yield (at.astimezone(zone).isoformat(), order_id, email, code, amount, shipping, status.lower())
