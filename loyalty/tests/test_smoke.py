from decimal import Decimal

import pytest

from loyalty.models import LoyaltyAccount, PointsTransaction
from loyalty.services.upkeep import balances_check
from loyalty.tests.factories import order_for, program_make

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/commerce/orders/"


def test_an_order_earns_points_and_a_refund_reverses_them(integration_client):
    program = program_make(rules=[{"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": Decimal("10")}])
    who = {"external_id": "C-1", "email": "c1@example.com"}
    response = integration_client.post(
        ORDERS, order_for("O-1", who, [("A", 2, "100.00"), ("B", 1, "50.00")]), format="json"
    )
    assert response.status_code == 201, response.content
    account = LoyaltyAccount.objects.get(program=program)
    assert account.balance == 2500
    integration_client.patch(f"{ORDERS}O-1/", {"status": "PAID"}, format="json")
    response = integration_client.patch(
        f"{ORDERS}O-1/",
        {"status": "REFUNDED", "refund_lines": [{"sku": "A", "quantity": 1}], "change_id": "R1"},
        format="json",
    )
    assert response.status_code == 200, response.content
    account.refresh_from_db()
    assert account.balance == 1500
    response = integration_client.patch(f"{ORDERS}O-1/", {"status": "CANCELLED"}, format="json")
    account.refresh_from_db()
    assert account.balance == 0, PointsTransaction.objects.values_list("kind", "points")
    assert balances_check() == []
