"""Order state-change hooks: a registry that higher apps register into.

Loyalty (earn / reverse points) and campaigns (void redemptions) register a hook under their
app's name in their ``AppConfig.ready()`` (``order_batch_hooks.register("loyalty", fn)``); a
hook gets the changes of a whole ingested batch at once (a single change is a batch of one), so
it can read what it needs in one query. Ingestion calls every hook *inside* the ingesting
transaction: a hook that raises rolls the whole change back, so an order is never stored
without the points it earned.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from commerce.models import Order, OrderLine
from lms.registry import Registry


@dataclass(frozen=True)
class RefundedLine:
    line: OrderLine
    quantity: int
    amount: Decimal


@dataclass(frozen=True)
class OrderChange:
    """``from_status`` is None when the order was just ingested."""

    order: Order
    from_status: str | None
    to_status: str
    occurred_at: datetime
    refunded_lines: tuple[RefundedLine, ...] = field(default=())
    refund_amount: Decimal = Decimal("0.00")
    # The order's lines when the ingester holds them in memory (a new order): a hook that
    # needs them reads them here instead of querying per order. None: read them if needed.
    lines: tuple[OrderLine, ...] | None = None


OrderBatchHook = Callable[[Sequence[OrderChange]], None]
order_batch_hooks: Registry[OrderBatchHook] = Registry("order batch hooks")


def order_change_emit(change: OrderChange) -> None:
    order_changes_emit([change])


def order_changes_emit(changes: Sequence[OrderChange]) -> None:
    """Every hook on all the changes, in the order the apps registered them."""
    if changes:
        for hook in order_batch_hooks.values():
            hook(changes)
