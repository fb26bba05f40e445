"""Small builders the field definitions are made of (portable SQL: PostgreSQL and SQLite)."""

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db.models import Count, Exists, Expression, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Lower
from django.db.models.lookups import Exact, In
from django.utils import timezone

from segments.criteria.compile import compare
from segments.criteria.registry import Context


def days_since(
    *,
    at_or_before: Callable[[dt.datetime], Q],
    exists: Q,
    after: Callable[[dt.datetime], Q] | None = None,
) -> Callable[[Context, str, Any], Q]:
    """ "Days since X" compared with N, where ``at_or_before(t)`` is "X <= t" and a row with
    no X never matches. Whole days: X 36 hours ago is 1 day ago. Turning the comparison into
    timestamps keeps it index-friendly and portable (no date arithmetic in SQL).

    ``after(t)``, "X > t" (for an X that exists), is the complement within ``exists``; given,
    it replaces ``exists & ~at_or_before(t)``, which the database would evaluate literally.
    """
    if after is None:

        def after(t: dt.datetime) -> Q:
            return exists & ~at_or_before(t)

    def build(ctx: Context, op: str, value: Any) -> Q:
        def ago(days: int) -> dt.datetime:  # the instant `days` whole days ago
            try:
                return ctx.now - dt.timedelta(days=days)
            except OverflowError:  # before year 1: nothing is that long ago
                return dt.datetime.min.replace(tzinfo=dt.UTC)

        if op == "gte":
            return at_or_before(ago(value))
        if op == "gt":
            return at_or_before(ago(value + 1))
        if op == "lte":
            return after(ago(value + 1))
        if op == "lt":
            return after(ago(value))
        if op == "eq":
            return at_or_before(ago(value)) & after(ago(value + 1))
        if op == "ne":
            return exists & ~(at_or_before(ago(value)) & after(ago(value + 1)))
        if op == "between":
            low, high = value
            return at_or_before(ago(low)) & after(ago(high + 1))
        raise AssertionError(op)

    return build


def local_day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in the project's time zone, as an aware datetime."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


def date_compare(column: str) -> Callable[[Context, str, Any], Q]:
    """before / after / between on a datetime column, by local calendar day (inclusive)."""

    def build(ctx: Context, op: str, value: Any) -> Q:
        if op == "before":
            return Q(**{f"{column}__lt": local_day_start(value)})
        if op == "after":
            return Q(**{f"{column}__gte": local_day_start(value + dt.timedelta(days=1))})
        if op == "between":
            low, high = value
            return Q(
                **{
                    f"{column}__gte": local_day_start(low),
                    f"{column}__lt": local_day_start(high + dt.timedelta(days=1)),
                }
            )
        raise AssertionError(op)

    return build


def text_compare(column: str) -> Callable[[Context, str, Any], Q]:
    """Case-insensitive eq / ne / in / not_in on a text column."""

    def build(ctx: Context, op: str, value: Any) -> Q:
        lowered = Lower(column)
        if op in ("eq", "ne"):
            q = Q(Exact(lowered, value.lower()))
        else:
            q = Q(In(lowered, [item.lower() for item in value]))
        return q if op in ("eq", "in") else ~q

    return build


def boolean(q_true: Callable[[Context], Q]) -> Callable[[Context, str, Any], Q]:
    def build(ctx: Context, op: str, value: bool) -> Q:
        q = q_true(ctx)
        return q if value else ~q

    return build


def count_of(related: Callable[[Context], QuerySet], key: str) -> Callable[[Context], Expression]:
    """Rows of ``related(ctx)`` per outer row (``key`` names the column pointing at it), 0 when none."""

    def expression(ctx: Context) -> Expression:
        rows = related(ctx).filter(**{key: OuterRef("pk")}).order_by().values(key).annotate(n=Count("*")).values("n")
        return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))

    return expression


def sum_of(
    related: Callable[[Context], QuerySet], key: str, amount: Any, output_field
) -> Callable[[Context], Expression]:
    """The sum of ``amount`` over ``related(ctx)`` per outer row, 0 when none."""

    def expression(ctx: Context) -> Expression:
        rows = related(ctx).filter(**{key: OuterRef("pk")}).order_by().values(key).annotate(s=Sum(amount)).values("s")
        return Coalesce(Subquery(rows, output_field=output_field), Value(0, output_field=output_field))

    return expression


def exists_in(related: Callable[[Context], QuerySet], key: str) -> Callable[[Context], Q]:
    def q(ctx: Context) -> Q:
        return Q(Exists(related(ctx).filter(**{key: OuterRef("pk")})))

    return q


def _zero_matches(op: str, value: Any) -> bool:
    """Does a row with nothing to aggregate (a count or sum of 0) satisfy ``op value``?"""
    if op == "between":
        return value[0] <= 0 <= value[1]
    return {
        "eq": 0 == value,
        "ne": 0 != value,
        "gt": 0 > value,
        "gte": 0 >= value,
        "lt": 0 < value,
        "lte": 0 <= value,
    }[op]


def aggregate_compare(related: Callable[[Context], QuerySet], key: str, aggregate: Expression):
    """Compare a per-row aggregate (a count or a sum; 0 when there is nothing) as a semi-join.

    When 0 does not satisfy the comparison ("spend >= 5000"), the rows that do are exactly
    ``pk IN (SELECT key ... GROUP BY key HAVING agg >= 5000)``, which PostgreSQL runs as one
    grouped pass and a hash join, instead of a correlated subquery per customer. When 0 does
    satisfy it ("orders < 2"), the rows that do are those with no group that fails it.
    """

    def build(ctx: Context, op: str, value: Any) -> Q:
        groups = related(ctx).order_by().values(key).annotate(aggregated=aggregate)
        condition = compare(F("aggregated"), op, value)
        if not _zero_matches(op, value):
            return Q(pk__in=groups.filter(condition).values(key))
        failing = related(ctx).filter(**{key: OuterRef("pk")}).order_by().values(key).annotate(aggregated=aggregate)
        return ~Q(Exists(failing.filter(~condition)))

    return build
