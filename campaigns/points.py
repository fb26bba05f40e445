"""Loyalty points as a discount line in ``cart/evaluate`` and ``redemptions`` (``use_points``).

Campaigns does not know about points: the loyalty app registers a ``PointsProvider`` in its
``AppConfig.ready()``. Evaluation asks the provider for a quote on what the cart still costs
after the campaigns' item discounts; a redemption spends the quoted points in its own
transaction (after the campaign counters and codes, the last lock taken); a void gives them back.
"""

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from campaigns.engine import types as t
from campaigns.engine.money import allocate
from lms.errors import Invalid
from lms.registry import Registry

ZERO = Decimal("0.00")
# Why points asked for (``use_points``) were not applied: ``rejected[].reason`` beside the engine's reasons.
POINTS_REASONS: dict[str, str] = {
    "insufficient_points": "The customer does not have that many points.",
    "below_min_points": "Fewer points than the program's minimum to redeem.",
    "points_unavailable": "The program does not take points from this customer now.",
}


@dataclass(frozen=True)
class PointsRequest:
    program_id: int
    points: int


@dataclass(frozen=True)
class PointsQuote:
    """What ``points`` (fewer than asked when the cart costs less) are worth off this cart."""

    program_id: int
    name: str
    points: int
    value: Decimal
    balance: int  # before spending


class PointsProvider(Protocol):
    def quote(
        self, *, customer_id: int, request: PointsRequest, payable: Decimal, currency: str, at: datetime
    ) -> PointsQuote | t.Rejected: ...

    def spend(self, *, customer_id: int, quote: PointsQuote, order_id: str, at: datetime) -> None: ...

    def give_back(self, *, order_id: str, reason: str) -> None: ...


# Loyalty registers its provider under its app's name from ready(); the first one registered serves.
points_providers: Registry[PointsProvider] = Registry("points providers")


def points_provider() -> PointsProvider:
    providers = points_providers.values()
    if not providers:
        raise Invalid("points_unsupported", "Points are not enabled on this service.", path="use_points")
    return providers[0]


def points_apply(
    result: t.Result,
    lines: tuple[t.Line, ...],
    *,
    customer_id: int | None,
    request: PointsRequest,
    currency: str,
    at: datetime,
) -> tuple[t.Result, PointsQuote | None]:
    """The result with the points' value as one more discount line (spread over the items in
    proportion to what each still costs), or with a ``rejected`` entry saying why not."""
    if customer_id is None:
        raise Invalid("customer_required", "Points are spent by a known customer: give the customer.", path="customer")
    discounted: dict[str, Decimal] = {}
    for applied in result.discounts:
        for line in applied.lines:
            discounted[line.sku] = discounted.get(line.sku, ZERO) + line.amount
    left = [max(line.quantity * line.unit_price - discounted.pop(line.sku, ZERO), ZERO) for line in lines]
    payable = sum(left, ZERO)
    answer = points_provider().quote(
        customer_id=customer_id, request=request, payable=payable, currency=currency, at=at
    )
    if isinstance(answer, t.Rejected):
        return dataclasses.replace(result, rejected=(*result.rejected, answer)), None
    parts = allocate(answer.value, left)
    applied = t.Applied(
        campaign_id=answer.program_id,
        name=answer.name,
        code="",
        amount=answer.value,
        shipping_amount=ZERO,
        lines=tuple(t.LineDiscount(sku=line.sku, amount=part) for line, part in zip(lines, parts, strict=True) if part),
    )
    total_discount = result.total_discount + answer.value
    return (
        dataclasses.replace(
            result,
            discounts=(*result.discounts, applied),
            total_discount=total_discount,
            total=max(result.subtotal + result.shipping - total_discount, ZERO),
        ),
        answer,
    )
