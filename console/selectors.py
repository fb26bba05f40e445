"""Reads behind the console's own pages: the customer 360 view.

Each panel is one query (or a fixed few), whatever the customer's history: lists are cut to
their latest rows in SQL and totals are aggregates, never Python loops over rows."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Q, Sum, Window
from django.db.models.functions import RowNumber

from accounts.models import User
from campaigns.models import Redemption
from commerce.models import COUNTED_STATUSES, Order
from loyalty.models import PointsTransaction
from loyalty.selectors import account_summaries
from notifications.models import Delivery
from segments.models import CustomerMembership

LATEST = 10  # rows per list panel
LEDGER_LINES = 5  # ledger lines per program
SEGMENTS_SHOWN = 50
ZERO = Decimal("0.00")


def customer_orders(customer: User) -> dict[str, Any]:
    """The latest orders, and lifetime spend, count and last order of the counted ones
    (not cancelled, not fully refunded; spend is totals less refunds): two queries."""
    counted = Q(status__in=COUNTED_STATUSES)
    totals = Order.objects.filter(customer=customer).aggregate(
        orders=Count("id"),
        counted=Count("id", filter=counted),
        spend=Sum(F("total") - F("refunded_total"), filter=counted),
        last=Max("placed_at", filter=counted),
    )
    latest = list(
        Order.objects.filter(customer=customer)
        .order_by("-placed_at", "-id")
        .only("id", "external_id", "placed_at", "status", "total", "refunded_total", "currency")[:LATEST]
    )
    return {**totals, "spend": totals["spend"] or ZERO, "latest": latest}


def customer_loyalty(customer: User, now: dt.datetime) -> list[dict[str, Any]]:
    """Per program the customer is in (or may join): the wallet's figures (balance, pending,
    tier) and the account's latest ledger lines, read in one query for every account."""
    summaries = account_summaries(customer, now)
    ranked = (
        PointsTransaction.objects.filter(account__customer=customer)
        .annotate(
            program_id=F("account__program_id"),
            row=Window(RowNumber(), partition_by=F("account_id"), order_by=[F("occurred_at").desc(), F("id").desc()]),
        )
        .filter(row__lte=LEDGER_LINES)
        .order_by("account_id", "row")
    )
    lines: dict[int, list[PointsTransaction]] = defaultdict(list)
    for line in ranked:
        lines[line.program_id].append(line)
    return [{**summary, "ledger": lines.get(summary["program_id"], [])} for summary in summaries]


def customer_segments(customer: User) -> list[CustomerMembership]:
    return list(
        CustomerMembership.objects.filter(customer=customer)
        .select_related("segment")
        .order_by("segment__name")[:SEGMENTS_SHOWN]
    )


def customer_redemptions(customer: User) -> list[Redemption]:
    return list(
        Redemption.objects.filter(customer=customer).select_related("campaign").order_by("-redeemed_at", "-id")[:LATEST]
    )


def customer_messages(customer: User) -> list[Delivery]:
    return list(
        Delivery.objects.filter(recipient=customer).select_related("message").order_by("-created_at", "-id")[:LATEST]
    )


def customer_360(customer: User, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything the customer page shows beside the profile, in a constant number of queries."""
    now = now or dt.datetime.now(dt.UTC)
    return {
        "orders": customer_orders(customer),
        "programs": customer_loyalty(customer, now),
        "segments": customer_segments(customer),
        "redemptions": customer_redemptions(customer),
        "messages": customer_messages(customer),
    }
