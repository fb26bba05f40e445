"""The PRODUCT criteria: stock, purchase frequency, price, interaction and catalogue fields over
``commerce.Product`` (registered by ``SegmentsConfig.ready()``).

Sales are the lines of counted orders (``segments.fields.counted_lines``: not cancelled, not
fully refunded) placed at or before the evaluation time, within the condition's window when it
has one. Every field is a column filter, a correlated subquery or a window-function subquery
over all the products, so a whole tree stays one SQL query (window functions: PostgreSQL, and
SQLite from 3.25; the tests pass on both).
"""

import operator
from functools import reduce
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, PercentRank
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual

from commerce.models import EventKind, Product
from commerce.selectors import category_ids_below
from segments.builders import boolean, count_of, sum_of
from segments.criteria.registry import BOOL_OPS, NUMBER_OPS, PRODUCT, SET_OPS, TEXT_OPS, Context, Field
from segments.fields import counted_lines, events_of

STOCK_STATUSES = ("out_of_stock", "low", "in_stock", "overstock")
PRICE_BANDS = ("low", "mid", "high")
RATIO_FIELD = DecimalField()  # exact numeric: a conversion is compared by cross-multiplying, never divided


def stock_thresholds() -> tuple[int, int]:
    """(low, overstock): low stock is 0 < stock < low; overstock is stock > overstock."""
    return getattr(settings, "SEGMENTS_LOW_STOCK", 10), getattr(settings, "SEGMENTS_OVERSTOCK", 500)


def _any_of(bands: dict[str, Q], op: str, value: Any) -> Q:
    """The named bands of an eq / ne / in / not_in condition, OR-ed (the caller negates)."""
    names = [value] if op in ("eq", "ne") else value
    return reduce(operator.or_, (bands[name] for name in dict.fromkeys(names)))


def _positive(op: str) -> bool:
    return op in ("eq", "in")


# --- Stock ------------------------------------------------------------------------------------


def _stock_status(ctx: Context, op: str, value: Any) -> Q:
    low, over = stock_thresholds()
    # The four bands partition the products whatever the settings: when low > overstock
    # (a misconfiguration) "in stock" is empty rather than overlapping "overstock".
    out = Q(stock_quantity__lte=0)
    low_band = Q(stock_quantity__gt=0, stock_quantity__lt=low)
    overstock = Q(stock_quantity__gt=over) & ~out & ~low_band
    in_stock = ~out & ~low_band & ~overstock
    q = _any_of({"out_of_stock": out, "low": low_band, "in_stock": in_stock, "overstock": overstock}, op, value)
    return q if _positive(op) else ~q


# --- Purchase frequency -----------------------------------------------------------------------


def _units_sold(ctx: Context):
    """Units bought less units refunded, over the product's lines in counted orders."""
    return sum_of(counted_lines, "product", F("quantity") - F("refunded_quantity"), IntegerField())(ctx)


def _orders_containing(ctx: Context):
    rows = (
        counted_lines(ctx)
        .filter(product=OuterRef("pk"))
        .order_by()
        .values("product")
        .annotate(n=Count("order", distinct=True))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def _best_sellers(ctx: Context, op: str, percent: int) -> Q:
    """In the top ``percent``% of all products by units sold in the window.

    CUME_DIST semantics, computed exactly in integers: a product qualifies when the products
    that sold at least as many units (itself and its ties included) are at most ``percent``% of
    the whole catalogue (every product, active or not, sold or not). A tie that straddles the
    cut is left out whole, so never more than ``percent``% are selected. A product that sold
    nothing in the window is never a best seller.
    """
    assert op == "lte", op  # percent is 1..100 (validated): 100 selects every product that sold
    ranked = (
        Product.objects.order_by()
        .annotate(
            # COUNT(*) with ORDER BY counts the rows up to and including the current row's
            # peers (RANGE frame): the products selling at least as many units.
            at_least_as_many=Window(Count("*"), order_by=_units_sold(ctx).desc()),
            catalogue=Window(Count("*")),
        )
        .filter(LessThanOrEqual(F("at_least_as_many") * 100, F("catalogue") * percent))
        .values("pk")
    )
    sold = Exists(counted_lines(ctx).filter(product=OuterRef("pk"), quantity__gt=F("refunded_quantity")))
    return Q(pk__in=ranked) & Q(sold)


def _never_sold(ctx: Context) -> Q:
    return ~Q(Exists(counted_lines(ctx).filter(product=OuterRef("pk"))))


# --- Price ------------------------------------------------------------------------------------


def _price_band(ctx: Context, op: str, value: Any) -> Q:
    """The product's price percentile within its own category (not counting sub-categories;
    products without a category form one group of their own), by PERCENT_RANK over price
    ascending: (products cheaper than it) / (products in the group - 1), 0 for a product alone
    in its group. low: below 1/3; mid: 1/3 up to, not including, 2/3; high: 2/3 and above. Equal
    prices share a band. Every product counts, active or not.

    PERCENT_RANK is a double computed as (rank - 1) / (n - 1), correctly rounded, so a rank that
    is exactly a third compares equal to the Python float 1/3 and falls in the upper band.
    """
    ranked = Product.objects.order_by().annotate(
        percentile=Window(PercentRank(), partition_by=[F("category_id")], order_by=F("price").asc())
    )
    bands = {
        "low": Q(percentile__lt=1 / 3),
        "mid": Q(percentile__gte=1 / 3, percentile__lt=2 / 3),
        "high": Q(percentile__gte=2 / 3),
    }
    q = Q(pk__in=ranked.filter(_any_of(bands, op, value)).values("pk"))
    return q if _positive(op) else ~q


# --- Interaction ------------------------------------------------------------------------------

_LOOKUPS = {"eq": Exact, "gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}


def _view_to_purchase(ctx: Context, op: str, value: Any) -> Q:
    """orders_containing / product_views in the window, as a fraction (0.25 is one order per
    four views; above 1 when orders outnumber recorded views). Compared by cross-multiplying
    (orders <op> value x views, views > 0) so it is exact and never divides. A product with no
    views has no conversion and matches no comparison; spelled out so that a ``not`` around it
    selects it (SQL's NOT of a NULL comparison would not)."""
    orders = _orders_containing(ctx)
    views = count_of(events_of(EventKind.PRODUCT_VIEW), "product")(ctx)

    def scaled(fraction) -> ExpressionWrapper:
        return ExpressionWrapper(Value(fraction, output_field=RATIO_FIELD) * views, output_field=RATIO_FIELD)

    if op == "between":
        comparison = Q(GreaterThanOrEqual(orders, scaled(value[0]))) & Q(LessThanOrEqual(orders, scaled(value[1])))
    elif op == "ne":
        comparison = ~Q(Exact(orders, scaled(value)))
    else:
        comparison = Q(_LOOKUPS[op](orders, scaled(value)))
    viewed = Q(Exists(events_of(EventKind.PRODUCT_VIEW)(ctx).filter(product=OuterRef("pk"))))
    return viewed & comparison


# --- Catalogue --------------------------------------------------------------------------------


def _in(column: str, *, categories: bool = False):
    def build(ctx: Context, op: str, ids: list[int]) -> Q:
        q = Q(**{f"{column}__in": sorted(category_ids_below(set(ids))) if categories else ids})
        return q if op == "any_of" else ~q  # none_of keeps products without one

    return build


PRODUCT_FIELDS = [
    # --- Stock
    Field(
        "stock_quantity", PRODUCT, "stock", "Units in stock", "integer", NUMBER_OPS, unit="units",
        expression=lambda ctx: F("stock_quantity"),
        help="The stock level the platform last reported.",
    ),
    Field(
        "stock_status", PRODUCT, "stock", "Stock level", "text", ("eq", "ne", "in", "not_in"),
        choices=STOCK_STATUSES, build=_stock_status,
        help="out_of_stock: 0 units; low: more than 0 and below SEGMENTS_LOW_STOCK (default 10); "
        "overstock: above SEGMENTS_OVERSTOCK (default 500); in_stock: the rest.",
    ),
    # --- Purchase frequency
    Field(
        "units_sold", PRODUCT, "purchase_frequency", "Units sold (in the last N days)", "integer", NUMBER_OPS,
        unit="units", window="optional", expression=_units_sold,
        help="Units in orders not cancelled or refunded, less units refunded; lifetime without window_days.",
    ),
    Field(
        "orders_containing", PRODUCT, "purchase_frequency", "Orders containing it (in the last N days)", "integer",
        NUMBER_OPS, unit="orders", window="optional", expression=_orders_containing,
        help="Orders not cancelled or refunded with a line for the product (even if that line was later "
        "returned); lifetime without window_days.",
    ),
    Field(
        "best_seller_percent", PRODUCT, "purchase_frequency", "Best seller: in the top N% by units sold", "integer",
        ("lte",), unit="%", window="required", default_window_days=30, build=_best_sellers, min_value=1, max_value=100,
        help="A value from 1 to 100. In the top N% of all products by units sold in the window (cumulative "
        "distribution: the products selling at least as many units, ties included, are at most N% of the "
        "catalogue; a tie across the cut is left out). A product that sold nothing is never a best seller.",
    ),
    Field(
        "never_sold", PRODUCT, "purchase_frequency", "Never sold", "boolean", BOOL_OPS,
        build=boolean(_never_sold),
        help="No line in any order that was not cancelled or refunded, ever.",
    ),
    # --- Price
    Field(
        "price", PRODUCT, "price", "Price", "decimal", NUMBER_OPS, unit="INR",
        expression=lambda ctx: F("price"),
    ),
    Field(
        "price_band", PRODUCT, "price", "Price band within its category", "text", TEXT_OPS,
        choices=PRICE_BANDS, build=_price_band,
        help="PERCENT_RANK of the price within the product's own category (uncategorised products form one "
        "group): low below 1/3, mid from 1/3 to below 2/3, high from 2/3; equal prices share a band; a "
        "product alone in its group is low.",
    ),
    # --- Interaction
    *[
        Field(
            name, PRODUCT, "interaction", label, "integer", NUMBER_OPS, unit="events", window="required",
            default_window_days=30, expression=count_of(events_of(kind), "product"),
            help="Platform interaction events naming the product, by any customer.",
        )
        for name, label, kind in (
            ("product_views", "Views in the last N days", EventKind.PRODUCT_VIEW),
            ("wishlist_adds", "Wishlist adds in the last N days", EventKind.WISHLIST_ADD),
            ("cart_adds", "Cart adds in the last N days", EventKind.CART_ADD),
        )
    ],
    Field(
        "view_to_purchase", PRODUCT, "interaction", "View-to-purchase conversion in the last N days", "decimal",
        NUMBER_OPS, unit="fraction", window="required", default_window_days=30, build=_view_to_purchase,
        help="Orders containing the product divided by its views, both in the window, as a fraction "
        "(0.25 = one order per four views; above 1 when orders outnumber views). A product without views "
        "matches no comparison.",
    ),
    # --- Catalogue
    Field(
        "category", PRODUCT, "catalogue", "Category (or below it)", "id_list", SET_OPS,
        build=_in("category_id", categories=True),
        help="any_of: in one of the categories or a sub-category; none_of also keeps uncategorised products.",
    ),
    Field(
        "brand", PRODUCT, "catalogue", "Brand", "id_list", SET_OPS, build=_in("brand_id"),
        help="none_of also keeps products without a brand.",
    ),
    Field(
        "active", PRODUCT, "catalogue", "Active (on sale)", "boolean", BOOL_OPS,
        build=boolean(lambda ctx: Q(active=True)),
    ),
]  # fmt: skip
