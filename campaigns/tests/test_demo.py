"""``manage.py seed_demo_campaigns``: what ``make run`` shows a marketer first."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign, CouponCode
from commerce.tests.factories import BrandFactory, CategoryFactory

pytestmark = pytest.mark.django_db


def test_demo_campaigns_are_made_once_and_work_at_checkout(integration_client):
    CategoryFactory(name="Electronics")
    BrandFactory(name="Acme")
    out = StringIO()

    call_command("seed_demo_campaigns", "--if-empty", stdout=out)
    call_command("seed_demo_campaigns", "--if-empty", stdout=out)

    assert Campaign.objects.count() == 7
    assert "nothing to do" in out.getvalue()
    assert CouponCode.objects.filter(code__startswith="VIP-").count() == 50
    cart = {
        "customer": {"email": "new@example.com"},
        "codes": ["DIWALI20"],
        "lines": [{"sku": "X", "quantity": 1, "unit_price": "5000.00"}],
        "shipping": "99",
    }
    result = integration_client.post("/api/v1/cart/evaluate", cart, format="json").json()
    assert {d["name"]: d["amount"] for d in result["discounts"]} == {
        "Diwali 20% off": "500.00",  # 20% capped at 500
        "Free shipping from ₹999": "0.00",
    }  # Welcome 15% (not stackable) comes after Diwali's priority: rejected
    assert "not_stackable" in {r["reason"] for r in result["rejected"]}
    assert result["shipping_discount"] == "99.00"


def test_seeding_again_without_if_empty_refuses_in_one_line_and_adds_nothing():
    call_command("seed_demo_campaigns", stdout=StringIO())
    made = Campaign.objects.count()

    with pytest.raises(CommandError, match=r"^code_taken: The code DIWALI20 is in use by another live campaign"):
        call_command("seed_demo_campaigns", stdout=StringIO())

    assert Campaign.objects.count() == made
