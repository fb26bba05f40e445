"""Order state-change hooks: a plain registry that higher apps register into.

Loyalty (earn / reverse points) and campaigns (void redemptions) call
``register_order_hook(fn)`` in their ``AppConfig.ready()``. Ingestion calls every hook once
per state change *inside* the ingesting transaction: a hook that raises rolls the whole
change back, so an order is never stored without the points it earned.
"""

from collections.abc import Callable
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


OrderHook = Callable[[OrderChange], None]
_order_hooks: list[OrderHook] = []


def register_order_hook(hook: OrderHook) -> OrderHook:
    """Register once (re-registering the same function is a no-op); usable as a decorator."""
    if hook not in _order_hooks:
        _order_hooks.append(hook)
    return hook


def unregister_order_hook(hook: OrderHook) -> None:
    if hook in _order_hooks:
        _order_hooks.remove(hook)


def order_change_emit(change: OrderChange) -> None:
    for hook in tuple(_order_hooks):
        hook(change)
