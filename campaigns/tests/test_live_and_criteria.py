"""``Campaign.objects.active(at)`` agrees with the engine; the discount criteria in segments."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import engine
from campaigns.engine import types as t
from campaigns.evaluation import engine_campaigns
from campaigns.models import Campaign
from campaigns.tests.factories import CampaignFactory, redemption_make
from segments.criteria import catalogue
from segments.selectors import segment_queryset
from segments.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def test_the_live_queryset_and_the_engine_agree_on_status_and_dates():
    day = dt.timedelta(days=1)
    CampaignFactory(name="live")
    CampaignFactory(name="open-ended", starts_at=NOW - day, ends_at=None)
    CampaignFactory(name="later", starts_at=NOW + day)
    CampaignFactory(name="ended", starts_at=NOW - 3 * day, ends_at=NOW - day)
    CampaignFactory(name="ends-now", starts_at=NOW - day, ends_at=NOW)
    CampaignFactory(name="off", status="INACTIVE")
    CampaignFactory(name="archived", status="INACTIVE", archived=True)
    cart = t.Cart(lines=(t.Line(sku="A", quantity=1, unit_price=Decimal("100")),))

    live = set(Campaign.objects.active(NOW).values_list("name", flat=True))
    applied = set()
    for campaign in engine_campaigns(list(Campaign.objects.all())):
        result = engine.evaluate(cart=cart, context=t.Context(at=NOW), campaigns=[campaign])
        if result.discounts:
            applied.add(campaign.name)

    assert live == applied == {"live", "open-ended"}


def test_discount_criteria_are_in_the_segments_catalogue():
    names = {field.name for field in catalogue("USER")}

    assert {"redemptions", "discount_received", "used_campaign", "used_coupon_code"} <= names


def test_discount_criteria_select_the_right_customers():
    diwali, welcome = CampaignFactory(), CampaignFactory()
    heavy, coupon, old, none = CustomerFactory(), CustomerFactory(), CustomerFactory(), CustomerFactory()
    redemption_make(customer=heavy, campaign=welcome, amount="600.00", order_id="O-1")
    redemption_make(customer=heavy, campaign=diwali, amount="100.00", order_id="O-2")
    redemption_make(customer=coupon, campaign=diwali, amount="50.00", code="DIWALI20", order_id="O-3")
    redemption_make(customer=old, campaign=welcome, order_id="O-4", redeemed_at=NOW - dt.timedelta(days=90))

    def members(condition):
        return set(segment_queryset("USER", {"all": [condition]}).values_list("pk", flat=True))

    assert members({"field": "redemptions", "op": "gte", "value": 2}) == {heavy.pk}
    assert members({"field": "redemptions", "op": "eq", "value": 0, "window_days": 30}) == {old.pk, none.pk}
    assert members({"field": "discount_received", "op": "gt", "value": "500"}) == {heavy.pk}
    assert members({"field": "used_campaign", "op": "any_of", "value": [diwali.pk]}) == {heavy.pk, coupon.pk}
    assert members({"field": "used_coupon_code", "op": "is", "value": True}) == {coupon.pk}
