"""Small builders the field definitions are made of (portable SQL: PostgreSQL and SQLite)."""

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db.models import Count, Exists, Expression, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Lower
from django.db.models.lookups import Exact, In
from django.utils import timezone

from segments.criteria import Context


def days_since(*, at_or_before: Callable[[dt.datetime], Q], exists: Q) -> Callable[[Context, str, Any], Q]:
    """ "Days since X" compared with N, where ``at_or_before(t)`` is "X <= t" and a row with
    no X never matches. Whole days: X 36 hours ago is 1 day ago. Turning the comparison into
    timestamps keeps it index-friendly and portable (no date arithmetic in SQL)."""

    def build(ctx: Context, op: str, value: Any) -> Q:
        def ago(days: int) -> Q:  # X is at least `days` whole days ago
            try:
                t = ctx.now - dt.timedelta(days=days)
            except OverflowError:  # before year 1: nothing is that long ago
                t = dt.datetime.min.replace(tzinfo=dt.UTC)
            return at_or_before(t)

        if op == "gte":
            return ago(value)
        if op == "gt":
            return ago(value + 1)
        if op == "lte":
            return exists & ~ago(value + 1)
        if op == "lt":
            return exists & ~ago(value)
        if op == "eq":
            return ago(value) & ~ago(value + 1)
        if op == "ne":
            return exists & ~(ago(value) & ~ago(value + 1))
        if op == "between":
            low, high = value
            return ago(low) & ~ago(high + 1)
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
