"""Order ingestion: a batch in one transaction, idempotent on external_id."""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from accounts.models import User
from commerce.hooks import OrderChange, order_changes_emit
from commerce.models import (
    ZERO,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Product,
)
from commerce.services import ItemResult
from commerce.services.customers import CustomerResolver
from lms.db import bulk_insert
from lms.errors import Conflict, DomainError

CENT = Decimal("0.01")


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.quantize(CENT))
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def order_request_hash(data: dict[str, Any]) -> str:
    """A fingerprint of a validated order body: equal for a retry, different for any change."""
    return hashlib.sha256(json.dumps(_canonical(data), sort_keys=True).encode()).hexdigest()


def _lock_keys(keys: Sequence[str]) -> None:
    """Serialise concurrent ingests of the same external ids (locks taken in a fixed order,
    so two batches that share ids cannot deadlock). Released at commit."""
    if connection.vendor != "postgresql" or not keys:
        return  # SQLite: transactions start IMMEDIATE (settings), so writers already take turns
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest(%s::text[]) AS k) AS keys ORDER BY h",
            [sorted({f"commerce.order:{key}" for key in keys})],
        )


def _order_from(item: dict[str, Any], customer, request_hash: str, has_unknown: bool) -> Order:
    return Order(
        external_id=item["external_id"],
        customer=customer,
        placed_at=item["placed_at"],
        status=item.get("status", OrderStatus.PLACED),
        currency=item.get("currency", "INR"),
        subtotal=item["subtotal"],
        shipping=item.get("shipping", ZERO),
        discount_total=item.get("discount_total", ZERO),
        tax_total=item.get("tax_total", ZERO),
        total=item["total"],
        shipping_country=item.get("shipping_country", ""),
        shipping_state=item.get("shipping_state", ""),
        shipping_city=item.get("shipping_city", ""),
        payment_method=item.get("payment_method", ""),
        coupon_codes=list(item.get("coupon_codes", [])),
        has_unknown_skus=has_unknown,
        request_hash=request_hash,
        # An order that arrives already refunded (back-fill) was refunded in full.
        refunded_total=item["total"] if item.get("status") == OrderStatus.REFUNDED else ZERO,
    )


def _line_from(order: Order, line: dict[str, Any], product: Product | None) -> OrderLine:
    category = product.category if product else None
    brand = product.brand if product else None
    return OrderLine(
        order=order,
        product=product,
        sku=line["sku"],
        name=line.get("name") or (product.name if product else ""),
        quantity=line["quantity"],
        unit_price=line["unit_price"],
        line_total=line["line_total"],
        category=category,
        brand=brand,
        category_name=category.name if category else line.get("category", ""),
        brand_name=brand.name if brand else line.get("brand", ""),
        unknown_sku=product is None,
        refunded_quantity=line["quantity"] if order.status == OrderStatus.REFUNDED else 0,
    )


def _replays_mark(items: list[dict[str, Any]], hashes: list[str], results: list[ItemResult]) -> list[int]:
    """Mark each item whose external_id is stored already, or comes earlier in the batch: a
    replay when the body is the same (``obj`` the stored order, or the index of the earlier
    item), else rejected with 409 ``order_conflict``. Answers the indexes of the items that
    create an order."""
    existing = {
        order.external_id: order
        for order in Order.objects.filter(external_id__in=[item["external_id"] for item in items])
    }
    fresh: dict[str, int] = {}  # external_id -> index of the item that creates it
    for index, item in enumerate(items):
        known = existing.get(item["external_id"])
        first = fresh.get(item["external_id"])
        if known is not None or first is not None:
            same = (known.request_hash if known is not None else hashes[first]) == hashes[index]
            if not same:
                results[index].reject(
                    Conflict(
                        "order_conflict",
                        f"Order {item['external_id']!r} was already ingested with a different body.",
                        external_id=item["external_id"],
                    )
                )
            else:
                results[index].outcome = "replayed"
                results[index].obj = known if known is not None else first
            continue
        fresh[item["external_id"]] = index
    return [index for index in fresh.values()]


def _orders_build(
    items: list[dict[str, Any]], hashes: list[str], results: list[ItemResult], creating: list[int]
) -> tuple[CustomerResolver, dict[str, Product], list[Order]]:
    """The new orders (unsaved), each its item's ``obj``, with its customer resolved (created
    when new); an item whose customer cannot be is rejected and leaves ``creating``."""
    refs = [items[i]["customer"] for i in creating]
    resolver = CustomerResolver(refs).resolve()
    products = Product.objects.select_related("category", "brand").in_bulk(
        {line["sku"] for i in creating for line in items[i]["lines"]}, field_name="sku"
    )
    orders: list[Order] = []
    for index in list(creating):
        item, result = items[index], results[index]
        try:
            customer = resolver.get(item["customer"])
        except DomainError as error:
            result.reject(error)
            creating.remove(index)
            continue
        unknown = [n for n, line in enumerate(item["lines"]) if line["sku"] not in products]
        result.warnings = [
            {
                "code": "unknown_sku",
                "path": f"lines[{n}].sku",
                "message": f"Unknown sku {item['lines'][n]['sku']!r}.",
            }
            for n in unknown
        ]
        order = _order_from(item, customer, hashes[index], bool(unknown))
        orders.append(order)
        result.obj = order
    return resolver, products, orders


def _lines_insert(
    items: list[dict[str, Any]], results: list[ItemResult], creating: list[int], products: dict[str, Product]
) -> None:
    """The new orders' lines and their initial status changes; each order keeps its lines
    (``_ingested_lines``) for the hooks."""
    lines = [
        _line_from(results[index].obj, line, products.get(line["sku"]))
        for index in creating
        for line in items[index]["lines"]
    ]
    bulk_insert(lines)
    lines_of: dict[int, list[OrderLine]] = {}
    for line in lines:
        lines_of.setdefault(id(line.order), []).append(line)
    for index in creating:
        results[index].obj._ingested_lines = tuple(lines_of.get(id(results[index].obj), ()))
    bulk_insert(
        [
            OrderStatusChange(
                order=results[i].obj,
                from_status="",
                to_status=results[i].obj.status,
                occurred_at=results[i].obj.placed_at,
            )
            for i in creating
        ]
    )


def _replays_settle(results: list[ItemResult]) -> None:
    """The same order twice in one batch: the replay shares the first item's fate."""
    for result in results:
        if result.outcome == "replayed" and isinstance(result.obj, int):
            first = results[result.obj]
            result.obj = first.obj
            if first.error is not None:
                result.reject(first.error)


def orders_ingest(*, items: list[dict[str, Any]]) -> list[ItemResult]:
    """Store a batch of validated orders (``OrderInput``) in one transaction.

    Per item: a new external_id is created with its lines and an initial status change, and
    the order hooks run; a known external_id with the same body is a replay (the stored
    order, nothing written); with a different body it is rejected with 409
    ``order_conflict``. An item a hook refuses is removed again, whole.
    """
    results = [ItemResult(index=i, key=item["external_id"]) for i, item in enumerate(items)]
    hashes = [order_request_hash(item) for item in items]
    with transaction.atomic():
        _lock_keys([item["external_id"] for item in items])
        creating = _replays_mark(items, hashes, results)
        resolver, products, orders = _orders_build(items, hashes, results, creating)
        bulk_insert(orders)
        _lines_insert(items, results, creating, products)
        _hooks_run([results[index] for index in creating], resolver.created_ids)
        _replays_settle(results)
    return results


def _created(order: Order) -> OrderChange:
    return OrderChange(
        order=order,
        from_status=None,
        to_status=order.status,
        occurred_at=order.placed_at,
        lines=getattr(order, "_ingested_lines", None),
    )


def _refused_order_remove(order: Order, customers_created: set[int]) -> None:
    """Take a refused order out, and its customer with it when this ingest created them just
    for it (no other order of theirs is left: it was created inside this transaction)."""
    Order.objects.filter(pk=order.pk).delete()
    customer_id = order.customer_id
    if customer_id in customers_created and not Order.objects.filter(customer_id=customer_id).exists():
        User.objects.filter(pk=customer_id).delete()


def _hooks_run(created: list[ItemResult], customers_created: set[int]) -> None:
    """Run the order hooks for each new order. Optimistically in one savepoint for the whole
    batch (a savepoint per order costs two round trips each); if a hook refuses an order, that
    savepoint is rolled back and the batch re-run one savepoint per order, so only the refused
    order (and a customer created for it alone) is taken out."""
    try:
        with transaction.atomic():
            order_changes_emit([_created(result.obj) for result in created])
        return
    except DomainError:  # a hook refused one of them: find which, one savepoint per order below
        pass
    for result in created:
        try:
            with transaction.atomic():
                order_changes_emit([_created(result.obj)])
        except DomainError as error:
            # The hook's own writes rolled back with its savepoint; take the order out too.
            _refused_order_remove(result.obj, customers_created)
            result.reject(error)
            result.obj = None


def order_ingest(*, data: dict[str, Any]) -> ItemResult:
    """One order; raises the item's domain error (409 order_conflict, 400 customer_unknown)."""
    result = orders_ingest(items=[data])[0]
    if result.error is not None:
        raise result.error
    return result
