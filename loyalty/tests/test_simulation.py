"""Simulation of loyalty programs: the replay gives the points loyalty's real earning gives on
the same orders, refunded and cancelled orders left out, through the API too."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from campaigns.simulation.runs import simulation_start
from commerce.tests.factories import CategoryFactory, ProductFactory
from loyalty.models import PointsTransaction
from loyalty.tests.factories import change, ingest, program_make

pytestmark = pytest.mark.django_db
ASHA = {"external_id": "C-ASHA", "email": "asha@example.com"}
RAVI = {"external_id": "C-RAVI", "email": "ravi@example.com"}


def ago(days: float) -> str:
    return (timezone.now() - dt.timedelta(days=days)).isoformat()


@pytest.fixture
def program():
    footwear = CategoryFactory(name="Footwear")
    ProductFactory(sku="BOOT", category=footwear)
    ProductFactory(sku="TEE", category=CategoryFactory(name="Apparel"))
    return program_make(
        rules=[
            {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": Decimal("1")},
            {"rule_type": "CATEGORY_POINTS", "points_per_rupee": Decimal("3"), "category_ids": [footwear.pk]},
            {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 100},
        ],
        tiers=[{"name": "Silver", "threshold": Decimal("1500"), "multiplier": Decimal("1.5")}],
    )


def history(client) -> None:
    """Orders over the last 20 days: discounts, a tier reached on the way, a refund, a cancel."""
    ingest(
        client, "O-1", ASHA, [("BOOT", 1, "400.00"), ("TEE", 2, "150.00")], placed_at=ago(20), discount_total="70.00"
    )
    ingest(client, "O-2", RAVI, [("TEE", 1, "999.00")], placed_at=ago(15))
    ingest(client, "O-3", ASHA, [("BOOT", 1, "200.00")], placed_at=ago(10))  # Silver by now: x1.5
    ingest(client, "O-4", RAVI, [("BOOT", 2, "50.00")], placed_at=ago(5))  # 300 points: Ravi stays below Silver
    change(client, "O-4", status="PAID")
    change(client, "O-4", status="REFUNDED")  # taken back in full: never counted
    ingest(client, "O-5", ASHA, [("TEE", 1, "100.00")], placed_at=ago(3))
    change(client, "O-5", status="CANCELLED")
    ingest(client, "O-6", RAVI, [("TEE", 1, "120.00")], placed_at=ago(2))  # fmt: skip


def test_a_program_replay_gives_the_points_the_real_earning_gave_on_the_same_orders(integration_client, program):
    history(integration_client)
    real = PointsTransaction.objects.filter(account__program=program).aggregate(net=Sum("points"))["net"]

    run = simulation_start(campaign=program, days=30, user_id=None)

    result = run.result
    assert real > 0
    assert result["points"] == real
    assert (result["orders"], result["qualifying_orders"], result["affected_customers"]) == (4, 4, 2)
    assert result["qualifying_share"] == "100.0"
    assert Decimal(result["points_value"]) > 0


def test_the_hand_computed_points_of_a_program(integration_client, program):
    history(integration_client)

    result = simulation_start(campaign=program, days=30, user_id=None).result

    # O-1: paid 630 (boot 400 - 40, tees 300 - 30): boot 360 x 3 = 1080, tees 270 x 1 = 270, bonus 100.
    # O-2: 999 + bonus 100. O-3: Asha has 1450 < 1500, no tier yet: 200 x 3 = 600 (then Silver).
    # O-6: Ravi 1099 < 1500: 120.
    assert result["points"] == 1080 + 270 + 100 + 999 + 100 + 600 + 120


def test_a_window_that_leaves_out_the_first_orders_counts_no_bonus_for_later_ones(integration_client, program):
    history(integration_client)

    result = simulation_start(campaign=program, days=12, user_id=None).result

    # O-3 (Asha, 200 boots: 600) and O-6 (Ravi, 120): neither is a first purchase.
    assert result["points"] == 720
    assert result["orders"] == 2


def test_the_program_route_answers_and_refuses_discount_campaigns(admin_client, program):
    from campaigns.tests.factories import CampaignFactory

    response = admin_client.post(f"/api/v1/loyalty/programs/{program.pk}/simulate", {"days": 7}, format="json")
    wrong = admin_client.post(f"/api/v1/loyalty/programs/{CampaignFactory().pk}/simulate", {"days": 7}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["result"]["kind"] == "program"
    assert response.json()["result"]["points"] == 0
    assert wrong.status_code == 404
