"""Order status changes (cancel, fulfil, refund): idempotent on a change_id, one transaction,
the order row locked for the whole change."""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from commerce.hooks import OrderChange, RefundedLine, order_change_emit
from commerce.models import (
    ORDER_TRANSITIONS,
    ZERO,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    RefundLine,
)
from commerce.services.orders.ingest import CENT, order_request_hash
from lms.errors import Conflict, Invalid, NotFound


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


def _is_replay(order: Order, *, status: str, refund_lines: list | None, change_id: str, digest: str) -> bool:
    """True when the change writes nothing: its change_id was seen with the same body, or it
    is a plain move to the status the order already has; a change_id seen with another body
    is 409 ``idempotency_conflict``."""
    if change_id:
        seen = order.status_changes.filter(external_id=change_id).only("id", "request_hash").first()
        if seen is not None:
            # A stored change without a fingerprint predates them: it can only be replayed.
            if seen.request_hash and seen.request_hash != digest:
                raise Conflict(
                    "idempotency_conflict",
                    f"Change {change_id!r} of order {order.external_id!r} was sent before with a different body; "
                    "a retry must send the same body, a new change a new change_id.",
                    change_id=change_id,
                )
            return True
    return status == order.status and not refund_lines


def _transition_check(order: Order, status: str) -> None:
    if status not in ORDER_TRANSITIONS[order.status]:
        allowed = ", ".join(sorted(ORDER_TRANSITIONS[order.status])) or "none (final status)"
        raise Conflict(
            "invalid_transition",
            f"An order in status {order.status} cannot become {status}; allowed: {allowed}.",
            from_status=order.status,
            to_status=status,
        )


def _refund_lines_pick(order: Order, lines: dict[str, OrderLine], wanted: list[dict[str, Any]]) -> list[RefundedLine]:
    """Each wanted line checked against what is left of it to refund, with its amount."""
    refunded: list[RefundedLine] = []
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
    return refunded


def _refund_apply(
    order: Order, lines: dict[str, OrderLine], refund_lines: list[dict[str, Any]] | None
) -> tuple[list[RefundedLine], Decimal, str]:
    """Refund the wanted lines (all that is left when none are named): their refunded
    quantities and the order's refunded total are updated. Answers the refunded lines, the
    amount and the order's new status (REFUNDED once nothing is left to refund)."""
    wanted = refund_lines or [
        {"sku": line.sku, "quantity": line.quantity - line.refunded_quantity}
        for line in lines.values()
        if line.quantity > line.refunded_quantity
    ]
    refunded = _refund_lines_pick(order, lines, wanted)
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
    return refunded, refund_amount, OrderStatus.REFUNDED if fully else order.status


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
    if _is_replay(order, status=status, refund_lines=refund_lines, change_id=change_id, digest=digest):
        return StatusChangeResult(order=order, change=None, replayed=True)
    _transition_check(order, status)
    lines = {line.sku: line for line in order.lines.order_by("id")}
    if status == OrderStatus.REFUNDED:
        refunded, refund_amount, new_status = _refund_apply(order, lines, refund_lines)
    else:
        refunded, refund_amount, new_status = [], ZERO, status

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
