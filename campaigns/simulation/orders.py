"""The orders a simulation replays: the counted orders of a window, oldest first, read in
batches (keyset pagination on ``(placed_at, id)``) so memory stays flat however many there are.

Each batch costs a fixed number of queries whatever its size: its orders (with the customer's
profile location), their lines, and each of its customers' first counted order.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Min, Q

from campaigns.engine import types as t
from commerce.models import Order, OrderLine

BATCH = 1000


@dataclass(frozen=True, slots=True)
class LineFact:
    sku: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal
    product_id: int | None
    category_id: int | None  # as captured at purchase
    brand_id: int | None


@dataclass(frozen=True, slots=True)
class OrderFact:
    """One counted order as a replay needs it."""

    id: int
    external_id: str
    customer_id: int
    placed_at: dt.datetime
    currency: str
    shipping: Decimal
    discount_total: Decimal
    total: Decimal
    shipping_to: t.Location  # the order's shipping address (casefolded), as loyalty judges it
    location: t.Location  # the shipping address, else the customer's profile, as checkout judges it
    is_first: bool  # no counted order of the customer's before this one
    lines: tuple[LineFact, ...]


def orders_in_window(since: dt.datetime, until: dt.datetime):
    """The counted orders placed in ``[since, until)``."""
    return Order.objects.counted().filter(placed_at__gte=since, placed_at__lt=until)


def orders_count(since: dt.datetime, until: dt.datetime) -> int:
    return orders_in_window(since, until).count()


def _location(country: str, state: str, city: str) -> t.Location:
    return t.Location(country=(country or "").casefold(), state=(state or "").casefold(), city=(city or "").casefold())


FIELDS = (
    "pk", "external_id", "customer_id", "placed_at", "currency", "shipping", "discount_total", "total",
    "shipping_country", "shipping_state", "shipping_city", "customer__country", "customer__state", "customer__city",
)  # fmt: skip


def order_batches(since: dt.datetime, until: dt.datetime, *, batch: int | None = None) -> Iterator[list[OrderFact]]:
    """The window's counted orders, oldest first, ``batch`` (default ``BATCH``) at a time (three
    queries a batch)."""
    batch = batch or BATCH
    orders = orders_in_window(since, until).order_by("placed_at", "pk")
    after: tuple[dt.datetime, int] | None = None
    while True:
        page = orders
        if after is not None:
            page = page.filter(Q(placed_at__gt=after[0]) | Q(placed_at=after[0], pk__gt=after[1]))
        rows = list(page.values_list(*FIELDS)[:batch])
        if not rows:
            return
        after = (rows[-1][3], rows[-1][0])
        yield _facts(rows)


def _facts(rows: list[tuple]) -> list[OrderFact]:
    lines: dict[int, list[LineFact]] = defaultdict(list)
    line_rows = OrderLine.objects.filter(order_id__in=[row[0] for row in rows]).order_by("order_id", "id")
    for order_id, *values in line_rows.values_list(
        "order_id", "sku", "quantity", "unit_price", "line_total", "product_id", "category_id", "brand_id"
    ):
        lines[order_id].append(LineFact(*values))
    customers = {row[2] for row in rows}
    firsts = dict(
        Order.objects.counted()
        .filter(customer_id__in=customers)
        .values("customer_id")
        .annotate(first=Min("placed_at"))
        .values_list("customer_id", "first")
    )
    facts = []
    for pk, external_id, customer_id, placed_at, currency, shipping, discount, total, *where in rows:
        shipping_to = _location(*where[:3])
        given = any(where[:3])
        first = firsts.get(customer_id)
        facts.append(
            OrderFact(
                id=pk,
                external_id=external_id,
                customer_id=customer_id,
                placed_at=placed_at,
                currency=currency,
                shipping=shipping,
                discount_total=discount,
                total=total,
                shipping_to=shipping_to,
                location=shipping_to if given else _location(*where[3:]),
                is_first=first is None or first >= placed_at,
                lines=tuple(lines[pk]),
            )
        )
    return facts
