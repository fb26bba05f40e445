"""Demo campaigns for ``make run``: one of each kind a marketer meets first, built through the
services (so they are what the console and the API would make) over the demo catalogue."""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_create
from campaigns.services.codes import codes_generate
from commerce.models import Brand, Category

D = Decimal


def _rule(rule_type: str, discount_type: str = "PERCENTAGE", **fields) -> dict:
    return {"rule_type": rule_type, "discount_type": discount_type, **fields}


@transaction.atomic
def demo_campaigns_seed(*, now: dt.datetime | None = None) -> list[Campaign]:
    """Seven live campaigns; categories and brands come from the demo catalogue when present."""
    now = now or timezone.now()
    common = {"status": "ACTIVE", "starts_at": now - dt.timedelta(days=1), "ends_at": now + dt.timedelta(days=90)}
    top = Category.objects.filter(parent__isnull=True).order_by("pk").first()
    brand = Brand.objects.order_by("pk").first()
    made = [
        campaign_create(
            name="Diwali 20% off", description="20% off the cart, up to ₹500, once per customer, from ₹999.",
            redemption_type="COUPON_CODE", code="DIWALI20", validity="ONE_TIME", min_cart_value=D("999"),
            usage_limit=10_000,
            rules=[_rule("WHOLE_CART", value=D("20"), max_discount=D("500"))], priority=10, **common,
        ),
        campaign_create(
            name="Free shipping from ₹999", kind="FREE_SHIPPING", stackable=True,
            rules=[_rule("CUSTOM_CART_TOTAL", "FREE_SHIPPING", tiers=[{"threshold": "999", "value": "1"}])], **common,
        ),
        campaign_create(
            name="Welcome 15%", description="New customers: 15% off the first order, up to ₹300.",
            audience="NEW_USERS", rules=[_rule("WHOLE_CART", value=D("15"), max_discount=D("300"))],
            stackable=False, priority=5, **common,
        ),
        campaign_create(
            name="Bulk buy", description="3+ items 5% off, 10+ items 12% off; three times a week.",
            period="WEEK", period_limit=3,
            rules=[_rule("BULK_PURCHASE", tiers=[{"threshold": "3", "value": "5"}, {"threshold": "10", "value": "12"}])],
            **common,
        ),
        campaign_create(
            name="VIP unique codes", redemption_type="COUPON_CODE", code_type="UNIQUE", customer_limit=1,
            rules=[_rule("WHOLE_CART", "FIXED_AMOUNT", value=D("250"))], budget=D("25000"), **common,
        ),
    ]  # fmt: skip
    if top is not None:
        made.append(
            campaign_create(
                name=f"{top.name}: 10% off",
                rules=[_rule("CATEGORY", value=D("10"), category_ids=[top.pk])],
                weekdays=["SAT", "SUN"],
                **common,
            )  # fmt: skip
        )
    if brand is not None:
        made.append(
            campaign_create(
                name=f"{brand.name}: buy 2 get 1 free",
                rules=[_rule("BUY_X_GET_Y", buy_quantity=2, get_quantity=1, max_applications=2, brand_ids=[brand.pk])],
                **common,
            )
        )
    codes_generate(campaign=made[4], count=50, prefix="VIP-", batch="demo")
    return made
