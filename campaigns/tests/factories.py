"""Campaign factories. ``CampaignFactory()`` is an ACTIVE automatic 10%-off-the-cart campaign
that started yesterday; pass ``rules=[{...}]`` (RuleFactory fields) to replace its rule.
Rows are made directly (not through the services): tests of the services build through them."""

import datetime as dt
import json
from decimal import Decimal

import factory
from django.utils import timezone

from campaigns.evaluation import snapshot_invalidate
from campaigns.models import Campaign, CampaignCounter, DiscountRule, OrderRedemption, Redemption


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DiscountRule

    rule_type = DiscountRule.RuleType.WHOLE_CART
    discount_type = DiscountRule.DiscountType.PERCENTAGE
    value = Decimal("10")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Campaign {n}")
    status = "ACTIVE"
    starts_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))

    @factory.post_generation
    def segments(self, create, extracted, **kwargs):
        if create and extracted:
            self.segments.set(extracted)

    @factory.post_generation
    def rules(self, create, extracted, **kwargs):
        if not create:
            return
        CampaignCounter.objects.get_or_create(campaign=self)
        for position, fields in enumerate(extracted if extracted is not None else [{}]):
            fields = dict(fields)
            targets = {name: fields.pop(name, []) for name in ("categories", "brands", "products", "product_segments")}
            rule = RuleFactory(campaign=self, position=position, **fields)
            for name, values in targets.items():
                getattr(rule, name).set(values)
        snapshot_invalidate()


class CouponCodeFactory(factory.django.DjangoModelFactory):
    """A unique code of a coupon campaign with code_type UNIQUE (made for it unless given)."""

    class Meta:
        model = "campaigns.CouponCode"

    campaign = factory.SubFactory(CampaignFactory, redemption_type="COUPON_CODE", code_type="UNIQUE")
    code = factory.Sequence(lambda n: f"CODE{n:06d}")


def redemption_make(
    *, customer, campaign, amount: str = "10.00", order_id: str = "O-1", code: str = "", redeemed_at=None
) -> Redemption:
    """A redemption row as the service stores it (with its checkout), at ``redeemed_at`` (default now)."""
    at = redeemed_at or timezone.now()
    checkout = OrderRedemption.objects.create(
        order_id=order_id, customer=customer, subtotal=Decimal("1000.00"), total_discount=Decimal(amount),
        total=Decimal("1000.00") - Decimal(amount), evaluated_at=at, request_hash="x", response={},
    )  # fmt: skip
    return Redemption.objects.create(
        order_redemption=checkout, campaign=campaign, customer=customer, order_id=order_id, code=code,
        amount=Decimal(amount), redeemed_at=at,
    )  # fmt: skip


# --- Request bodies the cart and checkout tests share ------------------------------------------------

TEE_LINE = {"sku": "TEE", "quantity": 2, "unit_price": "500.00"}


def cart(*lines, **extra) -> dict:
    """A ``POST /cart/evaluate`` body: ``lines`` (two 500.00 tees by default), ``extra`` on top."""
    return {"lines": list(lines) or [dict(TEE_LINE)], **extra}


def coded_cart(*codes: str, **extra) -> dict:
    """One 500.00 tee with these codes, ``extra`` on top."""
    return {"lines": [{"sku": "TEE", "quantity": 1, "unit_price": "500.00"}], "codes": list(codes), **extra}


def checkout_body(order_id: str = "O-1", email: str = "asha@example.com", **extra) -> dict:
    """A ``POST /redemptions`` body: a guest (by email) buying two 500.00 tees, ``extra`` on top."""
    return {"order_id": order_id, "customer": {"email": email}, **cart(), **extra}


def refused_at(response, path: str) -> dict:
    """A 400 in the error shape that names ``path`` (as a details key or as details.path)."""
    assert response.status_code == 400, response.content
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "details"}, body
    assert path in body["details"] or body["details"].get("path") == path, body
    return body
