"""The engine's answer as the API gives it (cart/evaluate and redemptions alike)."""

from decimal import Decimal
from typing import Any

from campaigns.engine import types as t
from campaigns.points import PointsQuote


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def points_json(quote: PointsQuote | None) -> dict[str, Any] | None:
    if quote is None:
        return None
    return {
        "program_id": quote.program_id,
        "points": quote.points,
        "value": money(quote.value),
        "balance": quote.balance,
        "balance_after": quote.balance - quote.points,
    }


def result_json(result: t.Result, points: PointsQuote | None = None) -> dict[str, Any]:
    """The engine's Result as the API answers it (cart/evaluate and redemptions alike)."""
    return {
        "subtotal": money(result.subtotal),
        "shipping": money(result.shipping),
        "discounts": [
            {
                "campaign_id": applied.campaign_id,
                "name": applied.name,
                "code": applied.code,
                "amount": money(applied.amount),
                "shipping_amount": money(applied.shipping_amount),
                "lines": [{"sku": line.sku, "amount": money(line.amount)} for line in applied.lines],
            }
            for applied in result.discounts
        ],
        "shipping_discount": money(result.shipping_discount),
        "total_discount": money(result.total_discount),
        "total": money(result.total),
        "rejected": [
            {"campaign_id": r.campaign_id, "code": r.code, "reason": r.reason, "message": r.message}
            for r in result.rejected
        ],
        "hints": [
            {
                "campaign_id": h.campaign_id,
                "message": h.message,
                "missing_amount": None if h.missing_amount is None else money(h.missing_amount),
                "missing_quantity": h.missing_quantity,
            }
            for h in result.hints
        ],
        "points": points_json(points),
        "exclusive": exclusive_json(result.exclusive),
    }


def exclusive_json(decision: t.ExclusiveDecision | None) -> dict[str, Any] | None:
    """How an exclusive campaign was weighed (None: no exclusive campaign was eligible)."""
    if decision is None:
        return None
    return {
        "policy": decision.policy,
        "campaign_id": decision.campaign_id,
        "outcome": decision.outcome,
        "message": decision.message,
    }
