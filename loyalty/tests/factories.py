"""Programs made through the services (so settings, rules and tiers are checked as in the API)."""

import datetime as dt
from decimal import Decimal
from typing import Any

from campaigns.models import CampaignStatus
from commerce.tests.factories import order_body, order_line_body
from loyalty.services.programs import program_create

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def program_make(
    *,
    rules: list[dict[str, Any]] | None = None,
    tiers: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
    **fields: Any,
):
    fields.setdefault("name", "Rewards")
    fields.setdefault("starts_at", START)
    fields.setdefault("status", CampaignStatus.ACTIVE)
    fields.setdefault("timezone", "Asia/Kolkata")
    return program_create(
        rules=rules if rules is not None else [{"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": Decimal("1")}],
        tiers=tiers or [],
        settings=settings or {},
        **fields,
    )


def order_for(
    external_id: str,
    customer: dict[str, Any],
    lines: list[tuple[str, int, str]] | None = None,
    *,
    placed_at: str = "2025-06-02T10:00:00Z",
    **extra: Any,
) -> dict[str, Any]:
    """An order body: ``lines`` as (sku, quantity, unit price)."""
    lines = lines or [("SKU-1", 1, "1000.00")]
    return order_body(
        external_id,
        customer=customer,
        lines=[order_line_body(sku, quantity, price) for sku, quantity, price in lines],
        placed_at=placed_at,
        **extra,
    )
