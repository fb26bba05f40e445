"""POST /api/v1/cart/evaluate: the ORM side of the engine (facts, codes, snapshot) over HTTP."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import CouponCode
from campaigns.services.campaigns import campaign_status_set
from campaigns.tests.factories import CampaignFactory, cart, redemption_make, refused_at
from commerce.tests.factories import BrandFactory, CategoryFactory, OrderFactory, ProductFactory
from lms.testing import assert_error
from segments.models import CustomerMembership
from segments.tests.factories import CustomerFactory, StaticSegmentFactory

pytestmark = pytest.mark.django_db

EVALUATE = "/api/v1/cart/evaluate"


def test_an_automatic_campaign_applies_to_a_guest_cart(integration_client):
    campaign = CampaignFactory(name="Ten off")

    result = integration_client.post(EVALUATE, cart(shipping="50"), format="json").json()

    assert result["subtotal"] == "1000.00"
    assert result["discounts"] == [
        {
            "campaign_id": campaign.pk, "name": "Ten off", "code": "", "amount": "100.00", "shipping_amount": "0.00",
            "lines": [{"sku": "TEE", "amount": "100.00"}],
        }
    ]  # fmt: skip
    assert (result["total_discount"], result["total"]) == ("100.00", "950.00")


def test_a_shared_code_applies_case_insensitively_and_unknown_codes_are_rejected(integration_client):
    CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20", rules=[{"value": Decimal("20")}])

    result = integration_client.post(EVALUATE, cart(codes=["diwali20", "NOPE"]), format="json").json()

    assert [d["code"] for d in result["discounts"]] == ["diwali20"]
    assert result["total_discount"] == "200.00"
    assert [(r["code"], r["reason"]) for r in result["rejected"]] == [("NOPE", "code_unknown")]


def test_codes_of_switched_off_or_ended_campaigns_say_why(integration_client):
    off = CampaignFactory(redemption_type="COUPON_CODE", code="OFF10")
    CampaignFactory(
        redemption_type="COUPON_CODE", code="OLD10",
        starts_at=timezone.now() - dt.timedelta(days=30), ends_at=timezone.now() - dt.timedelta(days=3),
    )  # fmt: skip
    campaign_status_set(campaign=off, status="INACTIVE")

    result = integration_client.post(EVALUATE, cart(codes=["OFF10", "OLD10"]), format="json").json()

    assert {r["code"]: r["reason"] for r in result["rejected"]} == {"OFF10": "inactive", "OLD10": "expired"}


def test_a_single_use_code_applies_once_then_reports_used(integration_client):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE")
    CouponCode.objects.create(campaign=campaign, code="ABCD2345")
    CouponCode.objects.create(campaign=campaign, code="USEDUSED", uses=1)

    fresh = integration_client.post(EVALUATE, cart(codes=["abcd2345"]), format="json").json()
    used = integration_client.post(EVALUATE, cart(codes=["USEDUSED"]), format="json").json()

    assert fresh["total_discount"] == "100.00"
    assert [r["reason"] for r in used["rejected"]] == ["code_used"]


def test_new_users_are_judged_by_customer_id_not_email(integration_client):
    CampaignFactory(name="Welcome", audience="NEW_USERS")
    veteran = CustomerFactory(email="veteran@example.com", external_id="C-9")
    OrderFactory(customer=veteran)
    newcomer = CustomerFactory(email="new@example.com")
    OrderFactory(customer=newcomer, status="CANCELLED")  # a cancelled order does not count

    for ref, applies in (
        ({"id": veteran.pk}, False),
        ({"external_id": "C-9"}, False),
        ({"email": "VETERAN@example.com"}, False),
        ({"id": newcomer.pk}, True),
        ({"email": "stranger@example.com"}, True),  # not mirrored yet: a new customer
    ):
        response = integration_client.post(EVALUATE, cart(customer=ref), format="json")
        assert response.status_code == 200, (ref, response.content)
        assert bool(response.json()["discounts"]) is applies, (ref, response.json())


@pytest.mark.parametrize(
    ("earlier", "applies"),
    [("REFUNDED", True), ("CANCELLED", True), ("PLACED", False), ("PAID", False), ("FULFILLED", False)],
)
def test_a_new_customers_campaign_applies_when_the_only_earlier_order_does_not_count(
    integration_client, earlier, applies
):
    CampaignFactory(name="Welcome", audience="NEW_USERS")
    customer = CustomerFactory()
    OrderFactory(customer=customer, status=earlier)  # counted: neither cancelled nor fully refunded

    response = integration_client.post(EVALUATE, cart(customer={"id": customer.pk}), format="json")

    assert response.status_code == 200, response.content
    assert [d["name"] for d in response.json()["discounts"]] == (["Welcome"] if applies else [])


def test_segment_audiences_read_the_materialised_membership(integration_client):
    vip = StaticSegmentFactory()
    CampaignFactory(audience="GROUPS", segments=[vip])
    member, other = CustomerFactory(), CustomerFactory()
    CustomerMembership.objects.create(segment=vip, customer=member)

    assert integration_client.post(EVALUATE, cart(customer={"id": member.pk}), format="json").json()["discounts"]
    assert not integration_client.post(EVALUATE, cart(customer={"id": other.pk}), format="json").json()["discounts"]


def test_catalogue_categories_count_their_parents_and_unknown_skus_may_name_theirs(integration_client):
    electronics = CategoryFactory(name="Electronics")
    phones = CategoryFactory(name="Phones", parent=electronics)
    acme = BrandFactory(name="Acme", external_id="B-ACME")
    ProductFactory(sku="PHONE", category=phones)
    CampaignFactory(rules=[{"rule_type": "CATEGORY", "categories": [electronics]}])
    CampaignFactory(rules=[{"rule_type": "BRAND", "brands": [acme], "value": Decimal("50")}])

    result = integration_client.post(
        EVALUATE,
        cart(
            {"sku": "PHONE", "quantity": 1, "unit_price": "1000.00"},
            {"sku": "NOT-MIRRORED", "quantity": 1, "unit_price": "200.00", "brand": "B-ACME"},
            {"sku": "OTHER", "quantity": 1, "unit_price": "300.00"},
        ),
        format="json",
    ).json()

    by_sku = {line["sku"]: line["amount"] for d in result["discounts"] for line in d["lines"]}
    assert by_sku == {"PHONE": "100.00", "NOT-MIRRORED": "100.00"}


def test_the_location_defaults_to_the_customers_profile(integration_client):
    CampaignFactory(countries=["India"], cities=["Pune"])
    pune = CustomerFactory(country="India", city="pune")

    at_home = integration_client.post(EVALUATE, cart(customer={"id": pune.pk}), format="json").json()
    travelling = integration_client.post(
        EVALUATE, cart(customer={"id": pune.pk}, location={"country": "India", "city": "Delhi"}), format="json"
    ).json()

    assert at_home["discounts"] and not travelling["discounts"]


def test_a_customer_evaluates_their_own_cart_only(customer_client, customer):
    CampaignFactory()

    own = customer_client.post(EVALUATE, cart(), format="json")
    explicit = customer_client.post(EVALUATE, cart(customer={"email": customer.email}), format="json")
    other = customer_client.post(EVALUATE, cart(customer={"email": "someone@example.com"}), format="json")

    assert own.status_code == 200 and own.json()["discounts"]
    assert explicit.status_code == 200
    assert_error(other, 403, "customer_mismatch")


def test_limits_are_judged_from_counters_and_the_customers_redemptions(integration_client):
    once = CampaignFactory(name="Once", customer_limit=1)
    customer = CustomerFactory()
    redemption_make(customer=customer, campaign=once)

    result = integration_client.post(EVALUATE, cart(customer={"id": customer.pk}), format="json").json()

    assert not result["discounts"]
    assert [r["reason"] for r in result["rejected"]] == ["customer_limit"]


def test_evaluate_costs_the_same_queries_for_5_or_60_campaigns(integration_client, django_assert_max_num_queries):
    customer = CustomerFactory()
    segment = StaticSegmentFactory()
    CustomerMembership.objects.create(segment=segment, customer=customer)
    category = CategoryFactory()
    ProductFactory(sku="TEE", category=category)

    def campaigns(n):
        for i in range(n):
            CampaignFactory(
                name=f"C{i}-{n}", usage_limit=100, customer_limit=5, period="DAY", period_limit=2, budget=Decimal("1000"),
                audience="GROUPS" if i % 3 == 0 else "ALL", segments=[segment] if i % 3 == 0 else [],
                rules=[{"rule_type": "CATEGORY", "categories": [category]}, {"value": Decimal("1")}],
            )  # fmt: skip

    body = cart(customer={"id": customer.pk}, codes=["NOPE"])
    campaigns(5)
    integration_client.post(EVALUATE, body, format="json")  # builds the snapshot
    with django_assert_max_num_queries(6) as few:
        integration_client.post(EVALUATE, body, format="json")
    campaigns(55)
    integration_client.post(EVALUATE, body, format="json")
    with django_assert_max_num_queries(6) as many:
        result = integration_client.post(EVALUATE, body, format="json").json()

    assert len(few.captured_queries) == len(many.captured_queries)
    assert len(result["discounts"]) == 60


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"lines": []}, "lines"),
        ({"lines": "TEE"}, "lines"),
        ({"lines": [{"sku": "TEE", "quantity": -1, "unit_price": "5"}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "TEE", "quantity": 0, "unit_price": "5"}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "TEE", "quantity": 1, "unit_price": "-5"}]}, "lines[0].unit_price"),
        ({"lines": [{"sku": "TEE", "quantity": 1, "unit_price": "abc"}]}, "lines[0].unit_price"),
        ({"lines": [{"sku": "TEE", "quantity": 1, "unit_price": "1.005"}]}, "lines[0].unit_price"),
        ({"lines": [{"quantity": 1, "unit_price": "5"}]}, "lines[0].sku"),
        ({"lines": [{"sku": "TEE", "quantity": 1, "unit_price": "5"}], "shipping": "-1"}, "shipping"),
        ({"lines": [{"sku": "TEE", "quantity": 1, "unit_price": "5"}], "currency": "RUPEE"}, "currency"),
        ({"lines": [{"sku": "TEE", "quantity": 1, "unit_price": "5"}], "codes": "DIWALI"}, "codes"),
        ({"lines": [{"sku": "TEE", "quantity": 1, "unit_price": "5"}], "customer": {}}, "customer"),
        (
            {"lines": [{"sku": "TEE", "quantity": 1, "unit_price": "5"}], "customer": {"email": "nope"}},
            "customer.email",
        ),
        ({"lines": [{"sku": "TEE", "quantity": 1, "unit_price": "5"}], "at": "yesterday"}, "at"),
    ],
)
def test_malformed_carts_are_refused_with_the_field_path(integration_client, body, path):
    error = assert_error(integration_client.post(EVALUATE, body, format="json"), 400, "validation_error")

    assert path in error["details"], error


def test_a_pinned_time_may_not_lie_far_in_the_past(integration_client):
    old = (timezone.now() - dt.timedelta(days=3)).isoformat()

    assert_error(integration_client.post(EVALUATE, cart(at=old), format="json"), 400, "at_too_old")


def test_an_unknown_customer_id_is_404(integration_client):
    assert_error(
        integration_client.post(EVALUATE, cart(customer={"id": 999999}), format="json"), 404, "customer_not_found"
    )


def test_evaluate_needs_a_key_or_a_token(api_client):
    assert_error(api_client.post(EVALUATE, cart(), format="json"), 401, "not_authenticated")


@pytest.mark.parametrize(("policy", "outcome"), [("priority", "exclusive"), ("best", "stack")])
def test_the_answer_says_which_exclusive_policy_decided(integration_client, settings, policy, outcome):
    settings.CAMPAIGNS_EXCLUSIVE_POLICY = policy
    exclusive = CampaignFactory(name="Flat 50", exclusive=True, priority=9,
                                rules=[{"discount_type": "FIXED_AMOUNT", "value": Decimal("50")}])  # fmt: skip
    stack = [CampaignFactory(rules=[{"value": Decimal("10")}]) for _ in range(2)]

    result = integration_client.post(EVALUATE, cart(), format="json").json()

    assert result["exclusive"]["policy"] == policy
    assert (result["exclusive"]["campaign_id"], result["exclusive"]["outcome"]) == (exclusive.pk, outcome)
    winners = [exclusive.pk] if outcome == "exclusive" else [c.pk for c in stack]
    assert [d["campaign_id"] for d in result["discounts"]] == winners


def test_without_an_exclusive_campaign_the_answer_has_no_decision(integration_client):
    CampaignFactory()

    assert integration_client.post(EVALUATE, cart(), format="json").json()["exclusive"] is None


# --- The pinned time ------------------------------------------------------------------------------


def test_a_pinned_time_at_the_end_of_the_calendar_is_refused_not_a_500(integration_client):
    CampaignFactory(timezone="Pacific/Kiritimati")  # UTC+14: 9999-12-31 18:00 UTC is past year 9999 there
    integration_client.raise_request_exception = False

    response = integration_client.post(EVALUATE, cart(at="9999-12-31T18:00:00Z"), format="json")

    refused_at(response, "at")
