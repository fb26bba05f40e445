"""Writing the planned demo rows: set-based, in chunks, in one transaction."""

import itertools
import secrets
import sys
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, models, transaction
from django.utils.timezone import now as timezone_now
from tqdm import tqdm

from accounts.models import Role, User
from commerce.demo.bodies import order_body, request_hash
from commerce.demo.data import (
    BRANDS,
    CHUNK,
    DAY,
    EVENT_DAYS,
    EVENT_KINDS,
    LEAVES,
    ZERO,
    activity,
)
from commerce.demo.plan import (
    Customers,
    DemoProduct,
    DemoSpec,
    OrderPlanner,
    _cumulative,
    _pick,
    _rng,
    customer_external_id,
    order_external_id,
    plan_products,
)
from commerce.models import InteractionEvent, Order, OrderLine, OrderStatusChange, Product
from commerce.services.catalogue import brand_ensure, category_ensure
from lms.db import copy_rows, ids_allocate

# --- Writing --------------------------------------------------------------------------------

PRODUCT_COLUMNS = ("id", "sku", "name", "category_id", "brand_id", "price", "stock_quantity", "active",
                   "created_at", "updated_at")  # fmt: skip
USER_COLUMNS = ("id", "password", "email", "first_name", "last_name", "phone", "country", "state", "city",
                "marketing_email", "marketing_sms", "marketing_push", "external_id", "platform_signed_up_at",
                "date_joined", "role", "is_superuser", "is_staff", "is_active", "updated_at")  # fmt: skip
ORDER_COLUMNS = ("id", "external_id", "customer_id", "placed_at", "status", "currency", "subtotal", "shipping",
                 "discount_total", "tax_total", "total", "refunded_total", "shipping_country", "shipping_state",
                 "shipping_city", "payment_method", "coupon_codes", "has_unknown_skus", "request_hash",
                 "created_at", "updated_at")  # fmt: skip
LINE_COLUMNS = ("order_id", "product_id", "sku", "name", "quantity", "unit_price", "line_total",
                "refunded_quantity", "category_id", "brand_id", "category_name", "brand_name", "unknown_sku")  # fmt: skip
CHANGE_COLUMNS = ("order_id", "from_status", "to_status", "occurred_at", "refund_amount", "external_id", "reason",
                  "created_at")  # fmt: skip
EVENT_COLUMNS = ("customer_id", "kind", "product_id", "occurred_at", "created_at")


class DemoDataExists(Exception):
    """The demo data set (or part of it) is already in the database."""


class _Writer:
    """Set-based inserts and id allocation for one seeding transaction."""

    def __init__(self, method: str) -> None:
        self.method = method

    def ids(self, model: type[models.Model], count: int) -> Sequence[int]:
        return ids_allocate(model, count)

    def write(self, model: type[models.Model], columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.method == "copy":
            copy_rows(model, columns, rows)
        else:
            objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
            model.objects.bulk_create(objects, batch_size=1_000)


@dataclass
class SeedSummary:
    categories: int = 0
    brands: int = 0
    products: int = 0
    customers: int = 0
    orders: int = 0
    order_lines: int = 0
    events: int = 0
    seconds: float = 0.0
    method: str = ""

    def __str__(self) -> str:
        return (
            f"{self.categories} categories, {self.brands} brands, {self.products} products, "
            f"{self.customers} customers, {self.orders} orders ({self.order_lines} lines), "
            f"{self.events} events in {self.seconds:.1f} s ({self.method})"
        )


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _bar(progress: bool, total: int, desc: str, unit: str) -> tqdm:
    return tqdm(total=total, desc=f"{desc:<9}", unit=f" {unit}", unit_scale=True, file=sys.stderr, disable=not progress)


def _refuse_duplicates(spec: DemoSpec, products: list[DemoProduct]) -> None:
    found = []
    if spec.customers and User.objects.filter(external_id=customer_external_id(0)).exists():
        found.append(f"customer {customer_external_id(0)}")
    if products and Product.objects.filter(sku=products[0].sku).exists():
        found.append(f"product {products[0].sku}")
    if spec.orders and Order.objects.filter(external_id=order_external_id(0)).exists():
        found.append(f"order {order_external_id(0)}")
    if found:
        raise DemoDataExists(f"the demo's {' and '.join(found)} already exist{'s' if len(found) == 1 else ''}")


def _write_catalogue(products: list[DemoProduct], writer: _Writer, summary: SeedSummary, progress: bool) -> None:
    """Categories and brands, then the products, which learn their ids and captured names."""
    if not products:
        return
    # Few rows: through the services, which reuse a category or brand that already exists.
    leaves = [category_ensure(path=list(leaf.path)) for leaf in LEAVES]
    brands = {name: brand_ensure(name=name) for name in BRANDS}
    summary.categories = len({leaf.pk for leaf in leaves} | {leaf.parent_id for leaf in leaves})
    summary.brands = len(brands)
    now = timezone_now()
    with _bar(progress, len(products), "products", "product") as bar:
        for chunk in _chunks(products, CHUNK):
            rows = []
            for product, product_id in zip(chunk, writer.ids(Product, len(chunk)), strict=True):
                category, brand = leaves[product.leaf], brands[product.brand]
                product.id, product.category_id, product.category_name = product_id, category.pk, category.name
                product.brand, product.brand_id = brand.name, brand.pk
                rows.append((product_id, product.sku, product.name, category.pk, brand.pk, product.price,
                             product.stock_quantity, product.active, now, now))  # fmt: skip
            writer.write(Product, PRODUCT_COLUMNS, rows)
            bar.update(len(chunk))
    summary.products = len(products)


def _write_customers(spec: DemoSpec, writer: _Writer, summary: SeedSummary, progress: bool) -> array:
    customers = Customers(spec)
    ids = array("q")
    now = timezone_now()
    constants = (Role.USER, False, False, True, now)  # role, is_superuser, is_staff, is_active, updated_at
    with _bar(progress, spec.customers, "customers", "customer") as bar:
        for first in range(0, spec.customers, CHUNK):
            count = min(CHUNK, spec.customers - first)
            chunk_ids = writer.ids(User, count)
            rows = [
                # Unusable, as make_password(None) makes them: these people have not signed up here.
                customers.row(index, user_id=user_id, password=UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30))
                + constants
                for index, user_id in zip(range(first, first + count), chunk_ids, strict=True)
            ]
            writer.write(User, USER_COLUMNS, rows)
            ids.extend(chunk_ids)
            bar.update(count)
    summary.customers = spec.customers
    return ids


def _write_orders(
    spec: DemoSpec, writer: _Writer, summary: SeedSummary, progress: bool, products: list[DemoProduct], customer_ids
) -> None:
    planner = OrderPlanner(spec, products, Customers(spec))
    now = timezone_now()
    with _bar(progress, spec.orders, "orders", "order") as bar:
        for chunk in _chunks(planner.orders(), CHUNK):
            order_rows, line_rows, change_rows = [], [], []
            for planned, order_id in zip(chunk, writer.ids(Order, len(chunk)), strict=True):
                data = planned.data
                order_rows.append((
                    order_id, data["external_id"], customer_ids[planned.customer], data["placed_at"], data["status"],
                    data["currency"], data["subtotal"], data["shipping"], data["discount_total"], data["tax_total"],
                    data["total"], data["total"] if planned.refunded else ZERO, data["shipping_country"],
                    data["shipping_state"], data["shipping_city"], data["payment_method"], data["coupon_codes"],
                    False, request_hash(order_body(data)), now, now,
                ))  # fmt: skip
                for line, product in zip(data["lines"], planned.products, strict=True):
                    line_rows.append((
                        order_id, product.id, line["sku"], line["name"], line["quantity"], line["unit_price"],
                        line["line_total"], line["quantity"] if planned.refunded else 0, product.category_id,
                        product.brand_id, product.category_name, product.brand, False,
                    ))  # fmt: skip
                change_rows.append((order_id, "", data["status"], data["placed_at"], ZERO, "", "", now))
            writer.write(Order, ORDER_COLUMNS, order_rows)
            writer.write(OrderLine, LINE_COLUMNS, line_rows)
            writer.write(OrderStatusChange, CHANGE_COLUMNS, change_rows)
            summary.orders += len(order_rows)
            summary.order_lines += len(line_rows)
            bar.update(len(chunk))


def _write_events(
    spec: DemoSpec, writer: _Writer, summary: SeedSummary, progress: bool, products: list[DemoProduct], customer_ids
) -> None:
    if not spec.events_per_customer or not spec.customers:
        return
    customers = Customers(spec)
    planner = OrderPlanner(spec, products, customers)
    rng = _rng(spec, "events")
    kinds = [kind for kind, _ in EVENT_KINDS]
    kind_weights = _cumulative(weight for _, weight in EVENT_KINDS)
    as_of = int(spec.as_of.timestamp())
    now = timezone_now()
    with _bar(progress, spec.customers, "events", "customer") as bar:
        step = CHUNK // 4  # customers per round trip: about CHUNK events
        for first in range(0, spec.customers, step):
            rows = []
            last = min(first + step, spec.customers)
            for index in range(first, last):
                rank_fraction = (customers.rank(index) + 0.5) / spec.customers
                mean = spec.events_per_customer * activity(rank_fraction)
                count = int(mean * (0.5 + rng.random()) + 0.5)
                since = max(customers.signed_up_ts(index), as_of - EVENT_DAYS * DAY)
                for _ in range(count):
                    kind = kinds[_pick(kind_weights, rng.random())]
                    product_id = None if kind == "LOGIN" else planner.product(rng).id
                    occurred = datetime.fromtimestamp(rng.randint(since, as_of - 1), UTC)
                    rows.append((customer_ids[index], kind, product_id, occurred, now))
            writer.write(InteractionEvent, EVENT_COLUMNS, rows)
            summary.events += len(rows)
            bar.update(last - first)


def seed(spec: DemoSpec, *, progress: bool = False, method: str | None = None) -> SeedSummary:
    """Load the spec's demo data in one transaction; raises ``DemoDataExists`` when it is there.

    ``method`` is "copy" (PostgreSQL's COPY, the default there) or "orm" (``bulk_create``,
    the default elsewhere); both write the same rows.
    """
    method = method or ("copy" if connection.vendor == "postgresql" else "orm")
    if method == "copy" and connection.vendor != "postgresql":
        raise ValueError("COPY needs PostgreSQL.")
    started = time.monotonic()
    summary = SeedSummary(method=method)
    writer = _Writer(method)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Check foreign keys at the end of each statement rather than queueing millions of
            # deferred checks until commit: memory stays flat over a 10M-order run.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        products = plan_products(spec)
        _refuse_duplicates(spec, products)
        _write_catalogue(products, writer, summary, progress)
        customer_ids = _write_customers(spec, writer, summary, progress)
        _write_orders(spec, writer, summary, progress, products, customer_ids)
        _write_events(spec, writer, summary, progress, products, customer_ids)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are deferred
    summary.seconds = time.monotonic() - started
    return summary
