"""Rules aimed at a product segment (slow movers, overstock): the API, the console and the
cart, read from the segment's materialised membership."""

from decimal import Decimal

import pytest

from campaigns.models import Campaign, DiscountRule
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.test_admin import ADD, campaign_data
from commerce.tests.factories import CategoryFactory, ProductFactory
from lms.testing import assert_error
from segments.models import ProductMembership, Segment
from segments.services import segment_refresh
from segments.tests.factories import ProductSegmentFactory, SegmentFactory, price_at_least

pytestmark = pytest.mark.django_db

DISCOUNTS = "/api/v1/campaigns/discounts/"
EVALUATE = "/api/v1/cart/evaluate"


def body(*rules):
    return {
        "name": "Clear the slow movers",
        "starts_at": "2026-01-01T00:00:00+05:30",
        "status": "ACTIVE",
        "redemption_type": "AUTOMATIC",
        "rules": list(rules),
    }


def slow_movers(*products) -> Segment:
    segment = ProductSegmentFactory(name="Slow movers", type=Segment.Type.STATIC, criteria=None)
    ProductMembership.objects.bulk_create(ProductMembership(segment=segment, product=p) for p in products)
    return segment


def evaluate(client, *products):
    lines = [{"sku": p.sku, "quantity": 1, "unit_price": "1000.00"} for p in products]
    return client.post(EVALUATE, {"lines": lines}, format="json").json()


def test_a_rule_on_a_slow_movers_segment_discounts_only_its_members(admin_client, integration_client):
    slow, fast = ProductFactory(), ProductFactory()
    segment = slow_movers(slow)
    rule = {"rule_type": "PRODUCT", "discount_type": "PERCENTAGE", "value": "30", "product_segment_ids": [segment.pk]}

    created = admin_client.post(DISCOUNTS, body(rule), format="json")

    assert created.status_code == 201, created.content
    assert created.json()["rules"][0]["product_segment_ids"] == [segment.pk]
    result = evaluate(integration_client, slow, fast)
    assert [d["lines"] for d in result["discounts"]] == [[{"sku": slow.sku, "amount": "300.00"}]]
    assert result["exclusive"] is None


def test_quantity_rules_count_the_segment_as_one_of_their_targets(integration_client):
    slow, other = ProductFactory(), ProductFactory()
    segment = slow_movers(slow)
    CampaignFactory(
        rules=[{"rule_type": "BUY_X_GET_Y", "buy_quantity": 1, "get_quantity": 1, "value": Decimal("100"),
                "products": [other], "product_segments": [segment]}],
    )  # fmt: skip

    result = evaluate(integration_client, slow, other)

    assert result["total_discount"] == "1000.00"


def test_a_customer_segment_is_refused_on_the_rule_field(admin_client):
    customers = SegmentFactory(name="Pune customers")
    rule = {"rule_type": "PRODUCT", "discount_type": "PERCENTAGE", "value": "5", "product_segment_ids": [customers.pk]}

    error = assert_error(admin_client.post(DISCOUNTS, body(rule), format="json"), 400, "validation_error")

    assert error["details"] == {
        "rules[0].product_segment_ids": [f"Segment {customers.pk} (Pune customers) holds customers, not products."]
    }
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"rule_type": "CATEGORY"}, "A CATEGORY rule does not take product_segment_ids."),
        ({"rule_type": "WHOLE_CART"}, "A WHOLE_CART rule does not take product_segment_ids."),
    ],
)
def test_rule_types_without_product_targets_refuse_a_segment(admin_client, rule, message):
    segment = slow_movers()
    rule = {"discount_type": "PERCENTAGE", "value": "5", "product_segment_ids": [segment.pk], **rule}
    if rule["rule_type"] == "CATEGORY":
        rule["category_ids"] = [CategoryFactory().pk]

    error = assert_error(admin_client.post(DISCOUNTS, body(rule), format="json"), 400, "validation_error")

    assert error["details"] == {"rules[0].product_segment_ids": [message]}


def test_unknown_segment_ids_are_named(admin_client):
    rule = {"rule_type": "PRODUCT", "discount_type": "PERCENTAGE", "value": "5", "product_segment_ids": [999999]}

    error = assert_error(admin_client.post(DISCOUNTS, body(rule), format="json"), 400, "validation_error")

    assert error["details"] == {"rules[0].product_segment_ids": ["Unknown product segment ids: 999999."]}


def test_the_console_rule_form_takes_product_segments_and_refuses_customer_segments(console):  # noqa: F811
    segment, customers = slow_movers(), SegmentFactory()
    rules = [{"rule_type": "PRODUCT", "product_segments": [segment.pk], "value": "10"}]

    refused = console.post(ADD, campaign_data([{**rules[0], "product_segments": [customers.pk]}]))
    assert refused.status_code == 200
    errors = refused.context["inline_admin_formsets"][0].formset.forms[0].errors
    assert "product_segments" in errors, errors
    assert not Campaign.objects.exists()

    saved = console.post(ADD, campaign_data(rules))
    assert saved.status_code == 302
    assert list(DiscountRule.objects.get().product_segments.all()) == [segment]


def test_a_refreshed_membership_reaches_the_next_evaluation(integration_client):
    product = ProductFactory(price=Decimal("500.00"))
    segment = ProductSegmentFactory(criteria=price_at_least("1000.00"))
    segment_refresh(segment_id=segment.pk)
    CampaignFactory(rules=[{"rule_type": "PRODUCT", "product_segments": [segment]}])
    assert evaluate(integration_client, product)["discounts"] == []

    product.price = Decimal("1500.00")
    product.save()
    segment_refresh(segment_id=segment.pk)

    assert evaluate(integration_client, product)["total_discount"] == "100.00"


def test_a_segment_a_rule_targets_cannot_be_deleted(admin_client):
    segment = slow_movers()
    CampaignFactory(rules=[{"rule_type": "PRODUCT", "product_segments": [segment]}])

    assert_error(admin_client.delete(f"/api/v1/segments/{segment.pk}/"), 409, "segment_in_use")
