"""Order ingestion (idempotent on external_id) and status changes (cancel, refund)."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from commerce.hooks import OrderChange, RefundedLine, order_change_emit, order_changes_emit
from commerce.models import (
    ORDER_TRANSITIONS,
    ZERO,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Product,
    RefundLine,
)
from commerce.services import ItemResult
from commerce.services.customers import CustomerResolver
from lms.db import bulk_insert
from lms.errors import Conflict, DomainError, Invalid, NotFound

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

        creating = [index for index in fresh.values()]
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
        bulk_insert(orders)
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
        _hooks_run([results[index] for index in creating], resolver.created_ids)
        for result in results:
            if result.outcome == "replayed" and isinstance(result.obj, int):
                first = results[result.obj]  # the same order twice in one batch: share its fate
                result.obj = first.obj
                if first.error is not None:
                    result.reject(first.error)
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


# --- Status changes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChangeResult:
    order: Order
    change: OrderStatusChange | None  # None for a replay: nothing was written
    replayed: bool


def _refund_amount(order: Order, line: OrderLine, quantity: int) -> Decimal:
    """The line's share of what the customer paid for ``quantity`` units: its price less
    the order-level discount spread over the subtotal, rounded half-up to the paisa."""
    gross = line.unit_price * quantity
    # A discount larger than the subtotal (it may cover shipping) takes the goods to zero, not below.
    discount = min(order.discount_total, order.subtotal)
    if order.subtotal <= 0 or discount <= 0:
        return gross.quantize(CENT)
    return (gross - gross * discount / order.subtotal).quantize(CENT, rounding=ROUND_HALF_UP)


def status_change_hash(
    *, status: str, refund_lines: list[dict[str, Any]] | None, reason: str, occurred_at: datetime | None
) -> str:
    """A fingerprint of a status change's body (its change_id aside): equal for a retry; the
    refund lines in any order."""
    lines = sorted((dict(line) for line in refund_lines or []), key=lambda line: line["sku"])
    body = {"status": status, "refund_lines": lines, "reason": reason, "occurred_at": occurred_at}
    return order_request_hash(body)


@transaction.atomic
def order_status_change(
    *,
    external_id: str,
    status: str,
    refund_lines: list[dict[str, Any]] | None = None,
    change_id: str = "",
    reason: str = "",
    occurred_at: datetime | None = None,
) -> StatusChangeResult:
    """Move an order along its life cycle; a refund records its lines and amount.

    ``refund_lines`` (``[{sku, quantity, amount?}]``) makes a REFUNDED change partial; the
    order becomes REFUNDED once nothing is left to refund. Idempotent: a change whose
    ``change_id`` was seen with the same body, or a plain move to the status the order
    already has, writes nothing and answers the order as it is; a ``change_id`` seen with
    another body is 409 ``idempotency_conflict``.
    """
    if refund_lines and status != OrderStatus.REFUNDED:
        raise Invalid("refund_lines_need_refunded", "refund_lines go with status REFUNDED.", field="refund_lines")
    # Locked for the whole change: two refunds of the same lines serialise, and the second
    # sees what the first refunded.
    order = Order.objects.select_for_update().filter(external_id=external_id).first()
    if order is None:
        raise NotFound("order_unknown", f"No order with external_id {external_id!r}.")
    digest = status_change_hash(status=status, refund_lines=refund_lines, reason=reason, occurred_at=occurred_at)
    if change_id:
        seen = order.status_changes.filter(external_id=change_id).only("id", "request_hash").first()
        if seen is not None:
            # A stored change without a fingerprint predates them: it can only be replayed.
            if seen.request_hash and seen.request_hash != digest:
                raise Conflict(
                    "idempotency_conflict",
                    f"Change {change_id!r} of order {external_id!r} was sent before with a different body; "
                    "a retry must send the same body, a new change a new change_id.",
                    change_id=change_id,
                )
            return StatusChangeResult(order=order, change=None, replayed=True)
    if status == order.status and not refund_lines:
        return StatusChangeResult(order=order, change=None, replayed=True)
    if status not in ORDER_TRANSITIONS[order.status]:
        allowed = ", ".join(sorted(ORDER_TRANSITIONS[order.status])) or "none (final status)"
        raise Conflict(
            "invalid_transition",
            f"An order in status {order.status} cannot become {status}; allowed: {allowed}.",
            from_status=order.status,
            to_status=status,
        )
    lines = {line.sku: line for line in order.lines.order_by("id")}
    refunded: list[RefundedLine] = []
    if status == OrderStatus.REFUNDED:
        wanted = refund_lines or [
            {"sku": line.sku, "quantity": line.quantity - line.refunded_quantity}
            for line in lines.values()
            if line.quantity > line.refunded_quantity
        ]
        for n, wanted_line in enumerate(wanted):
            line = lines.get(wanted_line["sku"])
            if line is None:
                raise Invalid(
                    "refund_line_unknown",
                    f"refund_lines[{n}]: the order has no line with sku {wanted_line['sku']!r}.",
                    path=f"refund_lines[{n}].sku",
                )
            left = line.quantity - line.refunded_quantity
            if wanted_line["quantity"] > left:
                raise Conflict(
                    "refund_exceeds_quantity",
                    f"refund_lines[{n}]: {wanted_line['quantity']} of {line.sku} asked, {left} left to refund.",
                    path=f"refund_lines[{n}].quantity",
                    left=left,
                )
            amount = wanted_line.get("amount")
            if amount is None:
                amount = _refund_amount(order, line, wanted_line["quantity"])
            refunded.append(RefundedLine(line=line, quantity=wanted_line["quantity"], amount=amount))
        refund_amount = sum((r.amount for r in refunded), ZERO)
        left_after = {line.sku: line.quantity - line.refunded_quantity for line in lines.values()}
        for r in refunded:
            left_after[r.line.sku] -= r.quantity
        if not any(left_after.values()) and not any(wanted_line.get("amount") is not None for wanted_line in wanted):
            # The last units: refund what is left of the total (shipping and tax included, and
            # no rounding left over from the per-line shares).
            refund_amount = order.total - order.refunded_total
        if order.refunded_total + refund_amount > order.total:
            raise Conflict(
                "refund_exceeds_total",
                f"Refunds would total {order.refunded_total + refund_amount}, more than the order's {order.total}.",
            )
        for r in refunded:
            r.line.refunded_quantity += r.quantity
        OrderLine.objects.bulk_update([r.line for r in refunded], ["refunded_quantity"])
        order.refunded_total += refund_amount
        fully = all(line.refunded_quantity == line.quantity for line in lines.values())
        new_status = OrderStatus.REFUNDED if fully else order.status
    else:
        refund_amount = ZERO
        new_status = status

    change = OrderStatusChange.objects.create(
        order=order,
        from_status=order.status,
        to_status=new_status,
        occurred_at=occurred_at or timezone.now(),
        refund_amount=refund_amount,
        external_id=change_id,
        request_hash=digest if change_id else "",
        reason=reason,
    )
    RefundLine.objects.bulk_create(
        [RefundLine(change=change, line=r.line, quantity=r.quantity, amount=r.amount) for r in refunded]
    )
    from_status = order.status
    order.status = new_status
    order.save(update_fields=["status", "refunded_total", "updated_at"])
    order_change_emit(
        OrderChange(
            order=order,
            from_status=from_status,
            to_status=new_status,
            occurred_at=change.occurred_at,
            refunded_lines=tuple(refunded),
            refund_amount=refund_amount,
        )
    )
    return StatusChangeResult(order=order, change=change, replayed=False)
