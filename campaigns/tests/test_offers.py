"""GET /api/v1/me/offers: the campaigns a customer may use now, judged by the engine's own checks
(audience, geography, schedule, limits, the customer's own code), paginated, in a constant
number of queries."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import CampaignCounter, CouponCode
from campaigns.services.code_assignment import codes_assign
from campaigns.tests.factories import CampaignFactory, redemption_make
from lms.testing import assert_error
from segments.models import CustomerMembership
from segments.tests.factories import CustomerFactory, StaticSegmentFactory

pytestmark = pytest.mark.django_db

OFFERS = "/api/v1/me/offers"
KOLKATA = ZoneInfo("Asia/Kolkata")


def offered(client, path: str = OFFERS) -> dict[int, dict]:
    response = client.get(path)
    assert response.status_code == 200, response.content
    return {offer["id"]: offer for offer in response.json()["results"]}


def unique_campaign(codes: int = 2, **extra):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE", **extra)
    CouponCode.objects.bulk_create([CouponCode(campaign=campaign, code=f"U{campaign.pk}X{i}") for i in range(codes)])
    return campaign


def test_an_automatic_campaign_shows_its_content_and_summary_without_a_code(customer_client):
    campaign = CampaignFactory(
        name="Summer",
        description="Ten off everything",
        min_cart_value=Decimal("500.00"),
        max_discount=Decimal("200.00"),
        ends_at=timezone.now() + dt.timedelta(days=3),
        notify_title="Summer sale",
        notify_body="10% off",
        notify_image_url="https://cdn.example.com/summer.png",
        notify_cta_text="Shop",
        notify_cta_url="https://shop.example.com/summer",
    )

    offer = offered(customer_client)[campaign.pk]

    assert offer["code"] is None and offer["redemption_type"] == "AUTOMATIC" and offer["kind"] == "DISCOUNT_COUPON"
    assert offer["summary"] == "10% off on orders of ₹500.00 or more (at most ₹200.00)"
    assert (offer["name"], offer["description"], offer["min_cart_value"]) == ("Summer", "Ten off everything", "500.00")
    assert offer["ends_at"] is not None and offer["currency"] == "INR"
    assert offer["content"] == {
        "title": "Summer sale",
        "body": "10% off",
        "image_url": "https://cdn.example.com/summer.png",
        "cta_text": "Shop",
        "cta_url": "https://shop.example.com/summer",
    }


def test_a_shared_code_campaign_shows_its_code(customer_client):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20", rules=[{"value": Decimal("20")}])

    offer = offered(customer_client)[campaign.pk]

    assert (offer["code"], offer["summary"]) == ("DIWALI20", "20% off")


def test_a_unique_codes_campaign_is_offered_only_with_the_callers_own_unused_code(customer, customer_client):
    mine, used, none_held = unique_campaign(), unique_campaign(), unique_campaign()
    codes_assign(campaign=mine, customer_ids=[customer.pk])
    codes_assign(campaign=used, customer_ids=[customer.pk])
    codes_assign(campaign=none_held, customer_ids=[CustomerFactory(email="other@example.com").pk])
    CouponCode.objects.filter(campaign=used, assigned_to=customer).update(uses=1)

    offers = offered(customer_client)

    assert offers[mine.pk]["code"] == CouponCode.objects.get(campaign=mine, assigned_to=customer).code
    assert used.pk not in offers and none_held.pk not in offers


def test_the_audience_decides(customer, customer_client):
    members, others = StaticSegmentFactory(), StaticSegmentFactory()
    CustomerMembership.objects.create(segment=members, customer=customer)
    in_segment = CampaignFactory(audience="SEGMENTS", segments=[members])
    not_in = CampaignFactory(audience="SEGMENTS", segments=[others])
    new_only = CampaignFactory(audience="NEW_USERS")
    existing_only = CampaignFactory(audience="EXISTING_USERS")

    offers = offered(customer_client)

    assert {in_segment.pk, new_only.pk} <= set(offers)
    assert not {not_in.pk, existing_only.pk} & set(offers)


def test_the_customers_place_decides(customer, customer_client):
    customer.country, customer.city = "IN", "Pune"
    customer.save(update_fields=["country", "city"])
    pune = CampaignFactory(cities=["pune"])
    mumbai = CampaignFactory(cities=["Mumbai"])
    abroad = CampaignFactory(countries=["US"])

    offers = offered(customer_client)

    assert pune.pk in offers and mumbai.pk not in offers and abroad.pk not in offers


def test_the_schedule_in_the_campaigns_zone_decides(customer_client):
    local = timezone.now().astimezone(KOLKATA)
    hour = dt.timedelta(hours=1)
    open_now = CampaignFactory(daily_start=(local - hour).time(), daily_end=(local + hour).time())
    later = CampaignFactory(daily_start=(local + 2 * hour).time(), daily_end=(local + 3 * hour).time())
    other_days = CampaignFactory(
        weekdays=[d for i, d in enumerate(("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")) if i != local.weekday()]
    )
    not_started = CampaignFactory(starts_at=timezone.now() + hour)
    ended = CampaignFactory(starts_at=timezone.now() - 3 * hour, ends_at=timezone.now() - hour)
    switched_off = CampaignFactory(status="INACTIVE")

    offers = offered(customer_client)

    assert open_now.pk in offers
    assert not {later.pk, other_days.pk, not_started.pk, ended.pk, switched_off.pk} & set(offers)


def test_the_limits_decide(customer, customer_client):
    used_up = CampaignFactory(usage_limit=2)
    CampaignCounter.objects.filter(pk=used_up.pk).update(uses=2)
    budget_spent = CampaignFactory(budget=Decimal("100.00"))
    CampaignCounter.objects.filter(pk=budget_spent.pk).update(discount_spent=Decimal("100.00"))
    once_each = CampaignFactory(customer_limit=1)
    redemption_make(customer=customer, campaign=once_each, order_id="O-1")
    once_a_day = CampaignFactory(period_limit=1, period="DAY")
    redemption_make(customer=customer, campaign=once_a_day, order_id="O-2")
    room_left = CampaignFactory(usage_limit=3, budget=Decimal("100.00"), customer_limit=2)
    CampaignCounter.objects.filter(pk=room_left.pk).update(uses=2, discount_spent=Decimal("99.99"))

    offers = offered(customer_client)

    assert room_left.pk in offers
    assert not {used_up.pk, budget_spent.pk, once_each.pk, once_a_day.pk} & set(offers)


def test_loyalty_programs_are_not_offers(customer_client):
    program = CampaignFactory(kind="LOYALTY_PROGRAM")

    assert program.pk not in offered(customer_client)


def test_offers_are_paginated_highest_priority_first(customer_client):
    low, high, middle = CampaignFactory(priority=1), CampaignFactory(priority=9), CampaignFactory(priority=5)

    first = customer_client.get(OFFERS, {"limit": 2}).json()
    second = customer_client.get(OFFERS, {"limit": 2, "page": 2}).json()

    assert (first["count"], first["pages"], first["limit"], first["page"]) == (3, 2, 2, 1)
    assert [o["id"] for o in first["results"]] + [o["id"] for o in second["results"]] == [high.pk, middle.pk, low.pk]


def _world(customer, sets: int) -> None:
    """``sets`` x (automatic, shared-code coupon, unique codes held, segment audience, limited)."""
    segment = StaticSegmentFactory()
    CustomerMembership.objects.create(segment=segment, customer=customer)
    for _ in range(sets):
        CampaignFactory(rules=[{"value": Decimal("5")}, {"rule_type": "BRAND", "value": Decimal("3")}])
        CampaignFactory(redemption_type="COUPON_CODE", code=f"SHARED{CampaignCounter.objects.count()}")
        codes_assign(campaign=unique_campaign(codes=3), customer_ids=[customer.pk])
        CampaignFactory(audience="SEGMENTS", segments=[segment])
        limited = CampaignFactory(customer_limit=5, period_limit=2, period="WEEK", usage_limit=100)
        redemption_make(customer=customer, campaign=limited, order_id=f"O-{limited.pk}")


def _queries(client, limit: int = 100) -> tuple[int, int]:
    client.get(OFFERS, {"limit": limit})  # builds this process's snapshot of the campaigns
    with CaptureQueriesContext(connection) as captured:
        response = client.get(OFFERS, {"limit": limit})
    return len(captured), response.json()["count"]


def test_the_query_count_does_not_grow_with_campaigns_or_codes(
    customer, customer_client, django_assert_max_num_queries
):
    _world(customer, 2)
    few, few_offers = _queries(customer_client)
    _world(customer, 6)
    many, many_offers = _queries(customer_client)

    assert (few_offers, many_offers) == (10, 40)
    assert many == few
    with django_assert_max_num_queries(4):  # the token's user, the customer's codes, the facts, the page's rows
        customer_client.get(OFFERS, {"limit": 100})


# --- Who asks ------------------------------------------------------------------------------------


def test_the_integration_names_the_customer_by_external_id(integration_client):
    person = CustomerFactory(email="p@example.com", external_id="shop-7")
    segment = StaticSegmentFactory()
    CustomerMembership.objects.create(segment=segment, customer=person)
    theirs = CampaignFactory(audience="SEGMENTS", segments=[segment])
    everyone = CampaignFactory()

    named = offered(integration_client, f"{OFFERS}?customer=shop-7")
    guest = offered(integration_client)

    assert {theirs.pk, everyone.pk} <= set(named)
    assert everyone.pk in guest and theirs.pk not in guest


def test_a_guest_is_offered_only_what_needs_no_customer(integration_client):
    everyone = CampaignFactory()
    limited = CampaignFactory(customer_limit=1)
    new_only = CampaignFactory(audience="NEW_USERS")
    unique = unique_campaign()

    offers = offered(integration_client)

    assert everyone.pk in offers and not {limited.pk, new_only.pk, unique.pk} & set(offers)


def test_an_unknown_customer_is_404_naming_the_parameter(integration_client, admin_client):
    for client in (integration_client, admin_client):
        error = assert_error(client.get(OFFERS, {"customer": "nobody"}), 404, "customer_not_found")
        assert error["details"] == {"path": "customer"}


def test_a_customer_sees_only_their_own_offers(customer, customer_client):
    CustomerFactory(email="other@example.com", external_id="other-1")
    customer.external_id = "me-1"
    customer.save(update_fields=["external_id"])

    assert_error(customer_client.get(OFFERS, {"customer": "other-1"}), 403, "customer_mismatch")
    assert customer_client.get(OFFERS, {"customer": "me-1"}).status_code == 200


def test_a_staff_account_is_not_a_customer(integration_client, admin_user):
    admin_user.external_id = "staff-1"
    admin_user.save(update_fields=["external_id"])

    assert_error(integration_client.get(OFFERS, {"customer": "staff-1"}), 409, "customer_protected")


@pytest.mark.parametrize(
    ("query", "param"), [({"customer": "x" * 65}, "customer"), ({"limit": "lots"}, "limit"), ({"page": "0"}, "page")]
)
def test_bad_parameters_are_400(integration_client, query, param):
    response = integration_client.get(OFFERS, query)

    assert response.status_code == 400
    body = response.json()
    assert param in body["details"] or body["details"].get("param") == param, body


def test_without_credentials_it_is_401(api_client):
    assert api_client.get(OFFERS).status_code == 401
