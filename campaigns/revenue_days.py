"""The daily rollup of revenue with and without a campaign (``RevenueDay``): the revenue split
of a long range reads one row per day instead of every order of the range (at 10M orders the
live split needs about 2 s, see bench/README.md).

``revenue_days_rollup`` (beat, every few minutes) recomputes from the orders and checkouts
every closed site day that changed since its last run: the day of an order ingested,
re-statused or refunded since (``Order.updated_at``) or of an order whose checkout redemption
was made or voided since (``created_at`` / ``voided_at``). Its first run rolls every closed
day. A run sets rows (deletes and rewrites the days it recomputes, under a lock, in one
transaction): a rerun, or two beats racing, write the same figures.

Readers take the days up to the last run's yesterday from the table (it holds no later day)
and the days after it live. A change to a day already rolled (a refund of last week's order)
shows in the figures at the next run.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, DecimalField, F, Max, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from campaigns.models import OrderRedemption, RedemptionStatus, RevenueDay
from commerce.models import Order
from lms.reports import DateRange, site_today, site_zone

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=14, decimal_places=2)
REVENUE = F("total") - F("refunded_total")
# A write that began before a run and committed after it carries a timestamp older than the
# run: the next run looks this far behind its predecessor so such a change is still seen.
SLACK = dt.timedelta(minutes=10)
LOCK = 0x4C4D535256  # pg_advisory_xact_lock key: one rollup at a time


def _money(expression, **filters) -> Coalesce:
    condition = Q(**filters) if filters else None
    return Coalesce(Sum(expression, filter=condition, output_field=MONEY), Value(ZERO), output_field=MONEY)


@dataclass(frozen=True)
class Totals:
    orders: int
    revenue: Decimal
    orders_with: int
    revenue_with: Decimal


def live_totals(*, span: DateRange) -> Totals:
    """Counted orders placed in ``span`` and their revenue, all and with a standing checkout
    redemption: two queries (the second a semi-join; an EXISTS per order in one query was 3x
    slower on 2M orders)."""
    placed = Order.objects.counted().filter(placed_at__gte=span.since, placed_at__lt=span.until)
    everything = placed.aggregate(n=Count("id"), revenue=_money(REVENUE))
    standing = OrderRedemption.objects.filter(status=RedemptionStatus.REDEEMED).values("order_id")
    with_one = placed.filter(external_id__in=standing).aggregate(n=Count("id"), revenue=_money(REVENUE))
    return Totals(everything["n"], everything["revenue"], with_one["n"], with_one["revenue"])


def totals(*, span: DateRange) -> Totals:
    """``live_totals`` of ``span`` read from the rollup for the days it holds, live for the
    days after the last run's yesterday: one query, plus two when a day is live."""
    rolled = RevenueDay.objects.aggregate(
        at=Max("rolled_at"),
        n=Coalesce(Sum("orders", filter=Q(day__gte=span.first, day__lte=span.last)), 0),
        revenue=_money("revenue", day__gte=span.first, day__lte=span.last),
        n_with=Coalesce(Sum("orders_with", filter=Q(day__gte=span.first, day__lte=span.last)), 0),
        revenue_with=_money("revenue_with", day__gte=span.first, day__lte=span.last),
    )
    first_live = span.first if rolled["at"] is None else max(span.first, site_today(rolled["at"]))
    if first_live > span.last:
        return Totals(rolled["n"], rolled["revenue"], rolled["n_with"], rolled["revenue_with"])
    live = live_totals(span=DateRange(first=first_live, last=span.last))
    return Totals(
        rolled["n"] + live.orders,
        rolled["revenue"] + live.revenue,
        rolled["n_with"] + live.orders_with,
        rolled["revenue_with"] + live.revenue_with,
    )


def _changed_days(*, since: dt.datetime) -> set[dt.date]:
    """The site days of orders changed since ``since``, or whose checkout was."""
    day = TruncDate("placed_at", tzinfo=site_zone())
    checkouts = OrderRedemption.objects.filter(Q(created_at__gte=since) | Q(voided_at__gte=since)).values("order_id")
    changed = Order.objects.filter(Q(updated_at__gte=since) | Q(external_id__in=checkouts))
    return set(changed.annotate(day=day).order_by().values_list("day", flat=True).distinct())


def _per_day(span: DateRange) -> dict[dt.date, dict]:
    day = TruncDate("placed_at", tzinfo=site_zone())
    placed = Order.objects.counted().filter(placed_at__gte=span.since, placed_at__lt=span.until).annotate(day=day)
    standing = OrderRedemption.objects.filter(status=RedemptionStatus.REDEEMED).values("order_id")
    rows = {r["day"]: r for r in placed.order_by().values("day").annotate(n=Count("id"), revenue=_money(REVENUE))}
    with_one = (
        placed.filter(external_id__in=standing)
        .order_by()
        .values("day")
        .annotate(n=Count("id"), revenue=_money(REVENUE))
    )
    for row in with_one:
        rows[row["day"]].update(n_with=row["n"], revenue_with=row["revenue"])
    return rows


@transaction.atomic
def revenue_days_rollup(*, now: dt.datetime | None = None) -> int:
    """Recompute the closed days changed since the last run (every closed day the first time);
    returns how many days were recomputed."""
    now = now or dt.datetime.now(dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])  # a racing run waits, then redoes the same
    yesterday = site_today(now) - dt.timedelta(days=1)
    last_run = RevenueDay.objects.aggregate(at=Max("rolled_at"))["at"]
    if last_run is None:
        first = Order.objects.order_by("placed_at").values_list("placed_at", flat=True).first()
        days = {first.astimezone(site_zone()).date(), yesterday} if first else set()
    else:
        # The days still open at the last run (today then, and any since) close now: rolled whole.
        days = _changed_days(since=last_run - SLACK) | {site_today(last_run), yesterday}
    days = {day for day in days if day <= yesterday}
    if not days:
        return 0
    span = DateRange(first=min(days), last=max(days))
    figures = _per_day(span)
    RevenueDay.objects.filter(day__gte=span.first, day__lte=span.last).delete()
    RevenueDay.objects.bulk_create(
        RevenueDay(
            day=day, orders=row["n"], revenue=row["revenue"], orders_with=row.get("n_with", 0),
            revenue_with=row.get("revenue_with", ZERO), rolled_at=now,
        )
        for day, row in figures.items()
    )  # fmt: skip
    RevenueDay.objects.update(rolled_at=now)  # the whole table is now exact as of this run
    return len(span.days)
