"""The USER criteria segments defines, from accounts and commerce (registered by
``SegmentsConfig.ready()``). Loyalty and campaigns define their own (points, tiers,
redemptions) in their ``segment_fields`` modules."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import NotSupportedError
from django.db.models import Avg, Count, DecimalField, Exists, Expression, F, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate

from commerce.models import EventKind, InteractionEvent, Order
from commerce.selectors import category_ids_below
from segments.builders import (
    aggregate_compare,
    boolean,
    count_of,
    date_compare,
    days_since,
    text_compare,
)
from segments.criteria.compile import compare
from segments.criteria.registry import (
    BOOL_OPS,
    DATE_OPS,
    NUMBER_OPS,
    SET_OPS,
    TEXT_OPS,
    USER,
    Context,
    Field,
)
from segments.fields import counted_lines, counted_orders, events_of

MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)


def _bought(column: str, *, categories: bool = False):
    def build(ctx: Context, op: str, ids: list[int]) -> Q:
        ids = sorted(category_ids_below(set(ids))) if categories else ids
        q = Q(Exists(counted_lines(ctx).filter(order__customer=OuterRef("pk"), **{f"{column}__in": ids})))
        return q if op == "any_of" else ~q

    return build


def _last_login_after(t: dt.datetime) -> Q:
    """Some sign-in here (``last_login``) or on the platform (a LOGIN event) is after t."""
    platform = Exists(InteractionEvent.objects.filter(customer=OuterRef("pk"), kind=EventKind.LOGIN, occurred_at__gt=t))
    return Q(last_login__gt=t) | Q(platform)


_EVER_LOGGED_IN = Q(last_login__isnull=False) | Q(
    Exists(InteractionEvent.objects.filter(customer=OuterRef("pk"), kind=EventKind.LOGIN))
)


def _last_login_at_or_before(t: dt.datetime) -> Q:
    """Someone who logged in, and every sign-in here and on the platform is at or before t."""
    return _EVER_LOGGED_IN & ~_last_login_after(t)


def _ordered_after(t: dt.datetime) -> Q:
    return Q(Exists(Order.objects.counted().filter(customer=OuterRef("pk"), placed_at__gt=t)))


_EVER_ORDERED = Q(Exists(Order.objects.counted().filter(customer=OuterRef("pk"))))


def _signed_up():
    return Coalesce("platform_signed_up_at", "date_joined")


USER_FIELDS = [
    # --- Membership
    Field(
        "days_since_signup", USER, "membership", "Days since sign-up", "integer", NUMBER_OPS, unit="days", min_value=0,
        build=days_since(
            at_or_before=lambda t: Q(platform_signed_up_at__lte=t) | Q(platform_signed_up_at__isnull=True, date_joined__lte=t),
            exists=Q(),
        ),
        help="From the platform's sign-up date when known, else from when the record was created here.",
    ),
    Field(
        "signed_up", USER, "membership", "Signed up (date)", "date", DATE_OPS,
        build=lambda ctx, op, value: _signup_date_compare(ctx, op, value),
    ),
    Field(
        "email_verified", USER, "membership", "Email verified", "boolean", BOOL_OPS,
        build=boolean(lambda ctx: Q(email_verified_at__isnull=False)),
    ),
    Field("country", USER, "membership", "Country", "text", TEXT_OPS, build=text_compare("country")),
    Field("state", USER, "membership", "State", "text", TEXT_OPS, build=text_compare("state")),
    Field("city", USER, "membership", "City", "text", TEXT_OPS, build=text_compare("city")),
    # --- Engagement
    Field(
        "days_since_last_login", USER, "engagement", "Days since last login", "integer", NUMBER_OPS, unit="days", min_value=0,
        build=days_since(at_or_before=_last_login_at_or_before, exists=_EVER_LOGGED_IN, after=_last_login_after),
        help="Sign-ins here and LOGIN events from the platform; someone who never logged in matches no comparison.",
    ),
    Field(
        "logins", USER, "engagement", "Logins in the last N days", "integer", NUMBER_OPS, unit="logins",
        window="required", default_window_days=30,
        expression=lambda ctx: count_of(lambda c: _login_events(c), "user")(ctx)
        + count_of(events_of(EventKind.LOGIN), "customer")(ctx),
        help="Sign-ins here plus LOGIN events from the platform.",
    ),
    *[
        Field(
            name, USER, "engagement", label, "integer", NUMBER_OPS, unit="events", window="required",
            default_window_days=30, build=aggregate_compare(events_of(kind), "customer", Count("*")),
        )
        for name, label, kind in (
            ("product_views", "Product views in the last N days", EventKind.PRODUCT_VIEW),
            ("wishlist_adds", "Wishlist adds in the last N days", EventKind.WISHLIST_ADD),
            ("cart_adds", "Cart adds in the last N days", EventKind.CART_ADD),
            ("cart_abandons", "Cart abandons in the last N days", EventKind.CART_ABANDON),
        )
    ],
    # --- Transaction
    Field(
        "orders", USER, "transaction", "Orders (in the last N days)", "integer", NUMBER_OPS, unit="orders",
        window="optional", build=aggregate_compare(counted_orders, "customer", Count("*")),
        help="Orders not cancelled or refunded; lifetime without window_days.",
    ),
    Field(
        "total_spend", USER, "transaction", "Total spend (in the last N days)", "decimal", NUMBER_OPS,
        unit="INR", window="optional",
        build=aggregate_compare(counted_orders, "customer", Sum(F("total") - F("refunded_total"), output_field=MONEY_FIELD)),
        help="Order totals less refunds, of orders not cancelled; lifetime without window_days.",
    ),
    Field(
        "average_order_value", USER, "transaction", "Average order value (in the last N days)", "decimal", NUMBER_OPS,
        unit="INR", window="optional",
        build=lambda ctx, op, value: _average_order_value_compare(ctx, op, value),
        help="Order totals less refunds, averaged over orders not cancelled; a customer without orders matches "
        "no comparison.",
    ),
    Field(
        "days_since_last_purchase", USER, "transaction", "Days since last purchase", "integer", NUMBER_OPS, unit="days", min_value=0,
        build=days_since(
            at_or_before=lambda t: _EVER_ORDERED & ~_ordered_after(t),
            exists=_EVER_ORDERED,
            after=lambda t: _ordered_after(t),
        ),
    ),
    Field(
        "days_since_first_purchase", USER, "transaction", "Days since first purchase", "integer", NUMBER_OPS, unit="days", min_value=0,
        build=days_since(
            at_or_before=lambda t: Q(Exists(Order.objects.counted().filter(customer=OuterRef("pk"), placed_at__lte=t))),
            exists=_EVER_ORDERED,
        ),
    ),
    Field(
        "bought_category", USER, "transaction", "Bought from a category (or below it)", "id_list", SET_OPS,
        window="optional", build=_bought("category_id", categories=True),
    ),
    Field("bought_brand", USER, "transaction", "Bought from a brand", "id_list", SET_OPS, window="optional", build=_bought("brand_id")),
    Field("bought_product", USER, "transaction", "Bought a product", "id_list", SET_OPS, window="optional", build=_bought("product_id")),
]  # fmt: skip


def _login_events(ctx: Context):
    from accounts.models import LoginEvent

    events = LoginEvent.objects.filter(occurred_at__lte=ctx.now)
    return events.filter(occurred_at__gte=ctx.since) if ctx.since else events


def _signup_date_compare(ctx: Context, op: str, value) -> Q:
    platform = date_compare("platform_signed_up_at")(ctx, op, value)
    here = date_compare("date_joined")(ctx, op, value)
    return Q(platform_signed_up_at__isnull=False) & platform | Q(platform_signed_up_at__isnull=True) & here


def _average_order_value_compare(ctx: Context, op: str, value) -> Q:
    """No orders, no average: such a customer matches no comparison. Spelled out so that a
    ``not`` around it selects them (SQL's NOT of a NULL comparison would not)."""
    net = Avg(F("total") - F("refunded_total"), output_field=MONEY_FIELD)  # net of refunds, like total_spend
    rows = counted_orders(ctx).filter(customer=OuterRef("pk")).order_by().values("customer").annotate(a=net).values("a")
    has_orders = Q(Exists(counted_orders(ctx).filter(customer=OuterRef("pk"))))
    return has_orders & compare(Subquery(rows, output_field=MONEY_FIELD), op, value)


class LoginStreak(Expression):
    """The outer customer's current login streak, as one correlated scalar subquery.

    Gaps and islands: the customer's distinct local login days (``settings.TIME_ZONE``; sign-ins
    here UNION the platform's LOGIN events, up to ``now``) numbered newest first; the n-th day
    is in the streak when it lies exactly n - 1 days before the latest one, and the streak
    counts only when that latest day is today or yesterday. Day arithmetic is the one piece of
    vendor SQL (PostgreSQL, SQLite).
    """

    output_field = IntegerField()
    contains_aggregate = False  # the aggregate and windows live inside the subquery
    contains_over_clause = False

    def __init__(self, ctx: Context) -> None:
        from accounts.models import LoginEvent

        super().__init__()
        zone = ZoneInfo(settings.TIME_ZONE)
        self.yesterday = ctx.now.astimezone(zone).date() - dt.timedelta(days=1)
        sources = (
            LoginEvent.objects.filter(user=OuterRef("pk")),
            InteractionEvent.objects.filter(customer=OuterRef("pk"), kind=EventKind.LOGIN),
        )
        self.queries = [
            Subquery(
                events.filter(occurred_at__lte=ctx.now)
                .order_by()
                .values(login_day=TruncDate("occurred_at", tzinfo=zone))
            ).query
            for events in sources
        ]

    def get_source_expressions(self):
        return self.queries

    def set_source_expressions(self, exprs) -> None:
        self.queries = list(exprs)

    def as_sql(self, compiler, connection):
        day, n, latest = (connection.ops.quote_name(name) for name in ("login_day", "login_n", "login_latest"))
        if connection.vendor == "postgresql":
            days_before_latest = f"({day} - {latest})"  # date - date is a whole number of days
        elif connection.vendor == "sqlite":
            days_before_latest = f"CAST(julianday({day}) - julianday({latest}) AS INTEGER)"
        else:
            raise NotSupportedError("login_streak is computed on PostgreSQL and SQLite only.")
        parts, params = [], []
        for query in self.queries:
            sql, part_params = query.as_sql(compiler, connection)
            parts.append(sql[1:-1])  # a UNION member takes no parentheses on SQLite
            params.extend(part_params)
        sql = (
            f"(SELECT COUNT(*) FROM (SELECT {day}, ROW_NUMBER() OVER (ORDER BY {day} DESC) AS {n}, "
            f"MAX({day}) OVER () AS {latest} FROM ({' UNION '.join(parts)}) segments_login_days) segments_login_ranked "
            f"WHERE {latest} >= %s AND {days_before_latest} + {n} = 1)"
        )
        return sql, (*params, connection.ops.adapt_datefield_value(self.yesterday))


USER_FIELDS.append(
    Field(
        "login_streak", USER, "engagement", "Current login streak", "integer", NUMBER_OPS, unit="days", min_value=0,
        expression=LoginStreak,
        help="Consecutive local calendar days with at least one sign-in here or LOGIN event from the platform, "
        "ending today or yesterday; 0 when the last login day is before yesterday.",
    )
)  # fmt: skip
