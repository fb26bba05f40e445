"""Programs made through the services (so settings, rules and tiers are checked as in the API)."""

import datetime as dt
from decimal import Decimal
from typing import Any

from campaigns.models import CampaignStatus
from commerce.tests.factories import order_body, order_line_body
from loyalty.models import LoyaltyAccount
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


# --- Orders through the integration API ---------------------------------------------------------------

ORDERS = "/api/v1/commerce/orders/"
ASHA = {"external_id": "C-ASHA", "email": "asha@example.com"}


def ingest(client, external_id: str, who: dict[str, Any] = ASHA, lines=None, **extra):
    """POST one order (``order_for``'s body) and insist it was stored."""
    response = client.post(ORDERS, order_for(external_id, who, lines, **extra), format="json")
    assert response.status_code in (200, 201), response.content
    return response


def change(client, external_id: str, **body):
    """PATCH an order's status (``body``: status, refund_lines, change_id...) and insist on a 200."""
    response = client.patch(f"{ORDERS}{external_id}/", body, format="json")
    assert response.status_code == 200, response.content
    return response


def asha_account(program) -> LoyaltyAccount:
    """Asha's account in ``program`` (it must exist)."""
    return LoyaltyAccount.objects.get(program=program, customer__email="asha@example.com")


# --- Money at the limits (points worth billions) ----------------------------------------------------

BILLION = 1_000_000_000


def no_raise(client):
    """The client answers a server error as a 500 response instead of raising it in the test."""
    client.raise_request_exception = False
    return client


def give_billion(admin_client, customer, program) -> None:
    response = admin_client.post(
        f"/api/v1/loyalty/accounts/{customer.pk}/adjust",
        {"program_id": program.pk, "points": BILLION, "reason": "goodwill"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["balance"] == BILLION


def give_ten_billion(admin_client, customer, program) -> None:
    for i in range(10):
        response = admin_client.post(
            f"/api/v1/loyalty/accounts/{customer.pk}/adjust",
            {"program_id": program.pk, "points": BILLION, "reason": "goodwill", "idempotency_key": f"g-{i}"},
            format="json",
        )
        assert response.status_code == 201, response.content
    assert LoyaltyAccount.objects.get(customer=customer, program=program).balance == 10 * BILLION
