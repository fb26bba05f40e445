"""The loyalty figures for the console's dashboard and program report: grouped SQL over the
append-only ledger and the accounts. A ledger row falls on the site day of its
``occurred_at`` (``lms.reports``); points are signed as the ledger stores them and reported
as positive amounts of each kind."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from campaigns.models import Campaign
from lms.db_router import replica_reads
from loyalty import engine as e
from loyalty.models import EarningRule, LoyaltyAccount, PointsTransaction, ProgramSettings, TransactionKind
from loyalty.selectors import liability

K = TransactionKind


def _points(kind: str):
    return Coalesce(Sum("points", filter=Q(kind=kind)), 0)


@dataclass(frozen=True)
class PointsFlow:
    earned: int
    redeemed: int
    expired: int
    reversed: int
    adjusted: int  # net: positive when more was added than taken


def points_flow(*, since: dt.datetime, until: dt.datetime, program: Campaign | None = None) -> PointsFlow:
    """Points earned, redeemed, expired, reversed and adjusted in [since, until): one query."""
    rows = PointsTransaction.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
    if program is not None:
        rows = rows.filter(account__program=program)
    f = rows.aggregate(
        earned=_points(K.EARN),
        redeemed=_points(K.REDEEM),
        expired=_points(K.EXPIRE),
        reversed=_points(K.REVERSAL),
        adjusted=_points(K.ADJUST),
    )
    return PointsFlow(f["earned"], -f["redeemed"], -f["expired"], -f["reversed"], f["adjusted"])


@dataclass(frozen=True)
class Outstanding:
    members: int
    points: int
    value: Decimal
    pending: int


def outstanding(*, program: Campaign | None = None) -> Outstanding:
    """Members, outstanding points and their value in rupees now (all programs, or one)."""
    figures = liability([program.pk] if program is not None else None).values()
    return Outstanding(
        members=sum(f["members"] for f in figures),
        points=sum(f["outstanding_points"] for f in figures),
        value=sum((f["outstanding_value"] for f in figures), Decimal("0.00")),
        pending=sum(f["pending_points"] for f in figures),
    )


@dataclass(frozen=True)
class RulePoints:
    rule: str
    points: int


def points_by_rule(*, program: Campaign, since: dt.datetime, until: dt.datetime) -> list[RulePoints]:
    """Points earned per earning rule in [since, until), most first (a removed rule by its id)."""
    rows = (
        PointsTransaction.objects.filter(
            account__program=program, kind=K.EARN, occurred_at__gte=since, occurred_at__lt=until
        )
        .order_by()
        .values_list("rule_id")
        .annotate(points=Sum("points"))
    )
    names = {rule.pk: rule.get_rule_type_display() for rule in EarningRule.objects.filter(program=program)}
    labelled = [
        RulePoints(names.get(rule_id, "Other" if rule_id is None else f"Removed rule #{rule_id}"), points)
        for rule_id, points in rows
    ]
    return sorted(labelled, key=lambda row: (-row.points, row.rule))


def tier_mix(*, program: Campaign) -> list[tuple[str, int]]:
    """Members per tier (lowest tier first, members without a tier first of all)."""
    rows = (
        LoyaltyAccount.objects.filter(program=program)
        .order_by()
        .values_list("tier__name", "tier__threshold")
        .annotate(n=Count("id"))
    )
    ordered = sorted(rows, key=lambda row: (row[1] is not None, row[1] or 0))
    return [(name or "No tier", n) for name, _, n in ordered]


LIABILITY_CSV_HEADER = ("account_id", "customer_email", "customer_external_id", "points_outstanding", "value_inr")


@replica_reads()
def liability_rows(*, program: Campaign, until: dt.datetime) -> Iterator[tuple]:
    """Each member's points outstanding just before ``until``, read from the ledger (the sum of
    its signed rows that occurred before then; pending points included), with their value at
    today's point value. Members holding nothing then are left out. Streamed, by account id (from
    the replica when there is one)."""
    point_value = ProgramSettings.objects.filter(program=program).values_list("point_value", flat=True).first()
    rows = (
        PointsTransaction.objects.filter(account__program=program, occurred_at__lt=until)
        .order_by()
        .values("account_id")
        .annotate(outstanding=Sum("points"))
        .filter(outstanding__gt=0)
        .values_list("account_id", "account__customer__email", "account__customer__external_id", "outstanding")
        .order_by("account_id")
    )
    for account_id, email, external_id, points in rows.iterator(chunk_size=2000):
        yield (account_id, email, external_id or "", points, e.points_value(points, point_value or Decimal("0")))
