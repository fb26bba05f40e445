"""Order state-change hooks: a plain registry that higher apps register into.

Loyalty (earn / reverse points) and campaigns (void redemptions) call
``register_order_hook(fn)`` (one change at a time) or ``register_order_batch_hook(fn)`` (the
changes of a whole ingested batch at once, so a hook can read what it needs in one query) in
their ``AppConfig.ready()``. Ingestion calls every hook once
per state change *inside* the ingesting transaction: a hook that raises rolls the whole
change back, so an order is never stored without the points it earned.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from commerce.models import Order, OrderLine


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


OrderHook = Callable[[OrderChange], None]
OrderBatchHook = Callable[[Sequence[OrderChange]], None]
_order_hooks: list[OrderHook] = []
_batch_hooks: list[OrderBatchHook] = []


def register_order_hook(hook: OrderHook) -> OrderHook:
    """Register once (re-registering the same function is a no-op); usable as a decorator."""
    if hook not in _order_hooks:
        _order_hooks.append(hook)
    return hook


def unregister_order_hook(hook: OrderHook) -> None:
    if hook in _order_hooks:
        _order_hooks.remove(hook)


def register_order_batch_hook(hook: OrderBatchHook) -> OrderBatchHook:
    """A hook called once per batch with every change in it (a single change is a batch of one)."""
    if hook not in _batch_hooks:
        _batch_hooks.append(hook)
    return hook


def unregister_order_batch_hook(hook: OrderBatchHook) -> None:
    if hook in _batch_hooks:
        _batch_hooks.remove(hook)


def order_change_emit(change: OrderChange) -> None:
    order_changes_emit([change])


def order_changes_emit(changes: Sequence[OrderChange]) -> None:
    """Every per-change hook on each change, then every batch hook on them all."""
    for hook in tuple(_order_hooks):
        for change in changes:
            hook(change)
    if changes:
        for batch_hook in tuple(_batch_hooks):
            batch_hook(changes)
