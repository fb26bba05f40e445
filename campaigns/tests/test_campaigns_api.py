"""Campaign CRUD over HTTP: create, list and filter, status, change, delete/archive, bad input."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignCounter, DiscountRule
from campaigns.tests.factories import CampaignFactory, redemption_make
from commerce.tests.factories import BrandFactory, CategoryFactory, ProductFactory
from lms.testing import assert_error
from segments.tests.factories import SegmentFactory, StaticSegmentFactory

pytestmark = pytest.mark.django_db

DISCOUNTS = "/api/v1/campaigns/discounts/"
CAMPAIGNS = "/api/v1/campaigns/"


def body(**overrides):
    base = {
        "name": "Diwali 20",
        "starts_at": "2026-10-01T00:00:00+05:30",
        "ends_at": "2026-11-30T00:00:00+05:30",
        "status": "ACTIVE",
        "redemption_type": "COUPON_CODE",
        "code": "diwali20",
        "rules": [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": "20", "max_discount": "500"}],
    }
    return {**base, **overrides}


def test_a_campaign_is_created_with_its_rules_counter_and_an_upper_case_code(admin_client):
    response = admin_client.post(DISCOUNTS, body(), format="json")

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["code"] == "DIWALI20"
    assert created["rules"][0]["value"] == "20.00"
    assert created["usage"] == {"uses": 0, "discount_spent": "0.00"}
    campaign = Campaign.objects.get(pk=created["id"])
    assert CampaignCounter.objects.filter(campaign=campaign).exists()
    assert campaign.rules.count() == 1
    assert campaign.history.count() == 1  # the change history starts


def test_the_seed_route_creates_a_campaign_too(admin_client):
    response = admin_client.post("/campaigns/discount-coupon/create", body(), format="json")

    assert response.status_code == 201, response.content
    assert Campaign.objects.filter(code="DIWALI20").exists()


def test_rules_keep_their_targets_and_tiers(admin_client):
    phones, acme, product = CategoryFactory(), BrandFactory(), ProductFactory()
    rules = [
        {"rule_type": "CATEGORY", "discount_type": "PERCENTAGE", "value": "10", "category_ids": [phones.pk]},
        {"rule_type": "BRAND", "discount_type": "FIXED_AMOUNT", "value": "50", "brand_ids": [acme.pk]},
        {"rule_type": "PRODUCT", "discount_type": "PERCENTAGE", "value": "5", "product_ids": [product.pk]},
        {
            "rule_type": "BULK_PURCHASE",
            "discount_type": "PERCENTAGE",
            "tiers": [{"threshold": 3, "value": 5}, {"threshold": 10, "value": 12}],
        },
        {"rule_type": "BUY_X_GET_Y", "discount_type": "PERCENTAGE", "buy_quantity": 2, "get_quantity": 1},
    ]

    response = admin_client.post(DISCOUNTS, body(rules=rules, redemption_type="AUTOMATIC", code=""), format="json")

    assert response.status_code == 201, response.content
    out = response.json()["rules"]
    assert out[0]["category_ids"] == [phones.pk]
    assert out[1]["brand_ids"] == [acme.pk]
    assert out[2]["product_ids"] == [product.pk]
    assert out[3]["tiers"] == [{"threshold": "3.00", "value": "5.00"}, {"threshold": "10.00", "value": "12.00"}]
    assert out[4]["value"] == "100.00"  # buy 2 get 1 free by default


def test_list_shows_every_kind_filters_and_pages_in_constant_queries(admin_client, django_assert_max_num_queries):
    for n in range(3):
        CampaignFactory(name=f"Auto {n}")
    CampaignFactory(name="Off", status="INACTIVE")
    CampaignFactory(name="Gone", archived=True, status="INACTIVE")

    with django_assert_max_num_queries(12):
        everything = admin_client.get(CAMPAIGNS, {"limit": 100}).json()
    for n in range(20):
        CampaignFactory(name=f"More {n}", rules=[{}, {"rule_type": "CATEGORY", "discount_type": "PERCENTAGE"}])
    with django_assert_max_num_queries(12):
        more = admin_client.get(CAMPAIGNS, {"limit": 100}).json()

    assert everything["count"] == 4  # archived ones are left out unless asked for
    assert more["count"] == 24
    assert admin_client.get(CAMPAIGNS, {"status": "INACTIVE"}).json()["count"] == 1
    assert admin_client.get(CAMPAIGNS, {"active": "true"}).json()["count"] == 23
    assert admin_client.get(CAMPAIGNS, {"archived": "true"}).json()["count"] == 1
    assert admin_client.get("/campaigns/get", {"page": 1, "limit": 10}).json()["count"] == 24


def test_active_lists_only_live_discount_campaigns(admin_client):
    live = CampaignFactory(name="Live")
    CampaignFactory(name="Later", starts_at=timezone.now() + dt.timedelta(days=1))
    CampaignFactory(
        name="Ended", starts_at=timezone.now() - dt.timedelta(days=9), ends_at=timezone.now() - dt.timedelta(days=1)
    )
    CampaignFactory(name="Off", status="INACTIVE")

    for url in (f"{DISCOUNTS}active/", "/campaigns/discount-coupon/active"):
        names = [c["name"] for c in admin_client.get(url).json()["results"]]
        assert names == [live.name]


def test_status_switches_a_campaign_off_and_on(admin_client):
    campaign = CampaignFactory()

    off = admin_client.patch(f"{CAMPAIGNS}{campaign.pk}/status/", {"status": "INACTIVE"}, format="json")
    seed = admin_client.patch(f"/campaigns/discount-coupon/{campaign.pk}/status", {"status": "ACTIVE"}, format="json")

    assert off.json()["status"] == "INACTIVE"
    assert seed.status_code == 200 and seed.json()["status"] == "ACTIVE"
    assert_error(
        admin_client.patch(f"{CAMPAIGNS}{campaign.pk}/status/", {"status": "ON"}, format="json"),
        400,
        "validation_error",
    )


def test_a_change_replaces_rules_and_keeps_what_was_not_sent(admin_client):
    campaign_id = admin_client.post(DISCOUNTS, body(), format="json").json()["id"]

    response = admin_client.patch(
        f"{CAMPAIGNS}{campaign_id}/",
        {"priority": 5, "rules": [{"rule_type": "WHOLE_CART", "discount_type": "FIXED_AMOUNT", "value": "100"}]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["priority"] == 5
    assert response.json()["code"] == "DIWALI20"
    assert [r["discount_type"] for r in response.json()["rules"]] == ["FIXED_AMOUNT"]
    assert DiscountRule.objects.filter(campaign_id=campaign_id).count() == 1
    assert Campaign.objects.get(pk=campaign_id).history.count() == 2


def test_a_campaign_without_redemptions_is_erased_one_with_them_archived(admin_client, customer):
    unused, used = CampaignFactory(), CampaignFactory(code="USED1", redemption_type="COUPON_CODE")
    redemption_make(customer=customer, campaign=used)

    assert admin_client.delete(f"{CAMPAIGNS}{unused.pk}/").status_code == 204
    assert admin_client.delete(f"/campaigns/coupon/{used.pk}").status_code == 204

    assert not Campaign.objects.filter(pk=unused.pk).exists()
    used.refresh_from_db()
    assert used.archived and used.status == "INACTIVE" and used.archived_at is not None
    # Its code is free again for a new campaign.
    assert admin_client.post(DISCOUNTS, body(code="used1"), format="json").status_code == 201
    assert_error(
        admin_client.patch(f"{CAMPAIGNS}{used.pk}/status/", {"status": "ACTIVE"}, format="json"),
        409,
        "campaign_archived",
    )


def test_audience_segments_are_kept_and_a_targeted_segment_cannot_be_deleted(admin_client):
    segment = SegmentFactory()

    created = admin_client.post(
        DISCOUNTS, body(audience="SEGMENTS", segment_ids=[segment.pk], code="SEG1"), format="json"
    ).json()

    assert created["segment_ids"] == [segment.pk]
    assert_error(admin_client.delete(f"/api/v1/segments/{segment.pk}/"), 409, "segment_in_use")


def test_customers_and_strangers_cannot_manage_campaigns(customer_client, api_client):
    assert_error(customer_client.post(DISCOUNTS, body(), format="json"), 403, "permission_denied")
    assert_error(api_client.get(CAMPAIGNS), 401, "not_authenticated")


# --- Bad input: each kind answers 400/409 with the field's path ---------------------------------


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"ends_at": "2026-09-01T00:00:00Z"}, "ends_at"),
        ({"daily_start": "09:00"}, "daily_end"),
        ({"daily_start": "09:00", "daily_end": "09:00"}, "daily_end"),
        ({"weekdays": ["FUNDAY"]}, "weekdays[0]"),
        ({"rules": [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": "150"}]}, "rules[0].value"),
        ({"rules": [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": "-5"}]}, "rules[0].value"),
        ({"rules": [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE"}]}, "rules[0].value"),
        ({"rules": [{"rule_type": "CATEGORY", "discount_type": "PERCENTAGE", "value": "5"}]}, "rules[0].category_ids"),
        ({"rules": [{"rule_type": "BRAND", "discount_type": "PERCENTAGE", "value": "5", "brand_ids": [999999]}]}, "rules[0].brand_ids"),
        ({"rules": [{"rule_type": "PRODUCT", "discount_type": "PERCENTAGE", "value": "5", "product_ids": [999999]}]}, "rules[0].product_ids"),
        ({"rules": [{"rule_type": "CATEGORY", "discount_type": "PERCENTAGE", "value": "5", "category_ids": [999999]}]}, "rules[0].category_ids"),
        ({"rules": [{"rule_type": "WHOLE_CART", "discount_type": "FREE_SHIPPING"}]}, "rules[0].discount_type"),
        ({"rules": [{"rule_type": "BUY_X_GET_Y", "discount_type": "PERCENTAGE", "buy_quantity": 2}]}, "rules[0].get_quantity"),
        ({"rules": [{"rule_type": "BULK_PURCHASE", "discount_type": "PERCENTAGE",
                     "tiers": [{"threshold": 10, "value": 5}, {"threshold": 3, "value": 12}]}]}, "rules[0].tiers[1].threshold"),
        ({"rules": [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": "5",
                     "tiers": [{"threshold": 100, "value": 5}]}]}, "rules[0].tiers"),
        ({"rules": []}, "rules"),
        ({"rules": "all of them"}, "rules"),
        ({"code": ""}, "code"),
        ({"code": "no spaces"}, "code"),
        ({"redemption_type": "AUTOMATIC"}, "code"),
        ({"audience": "SEGMENTS"}, "segment_ids"),
        ({"audience": "SEGMENTS", "segment_ids": [999999]}, "segment_ids"),
        ({"validity": "ONE_TIME", "customer_limit": 3}, "customer_limit"),
        ({"period": "DAY"}, "period_limit"),
        ({"period_limit": 2}, "period"),
        ({"kind": "LOYALTY_PROGRAM"}, "kind"),
        ({"budget": "0"}, "budget"),
        ({"currency": "RUPEES"}, "currency"),
        ({"starts_at": "not a date"}, "starts_at"),
        ({"notification": {"cta_url": "not a url"}}, "notification.cta_url"),
        ({"colour": "red"}, "colour"),
    ],
)  # fmt: skip
def test_bad_campaigns_are_refused_with_the_field_path(admin_client, overrides, path):
    error = assert_error(admin_client.post(DISCOUNTS, body(**overrides), format="json"), 400, "validation_error")

    assert path in error["details"], error
    assert not Campaign.objects.exists()


def test_groups_take_static_segments_and_customers_segments_only(admin_client):
    dynamic = SegmentFactory()
    products = SegmentFactory(kind="PRODUCT", criteria={"all": [{"field": "price", "op": "gte", "value": "10"}]})

    groups = admin_client.post(DISCOUNTS, body(audience="GROUPS", segment_ids=[dynamic.pk]), format="json")
    wrong_kind = admin_client.post(DISCOUNTS, body(audience="SEGMENTS", segment_ids=[products.pk]), format="json")
    fine = admin_client.post(DISCOUNTS, body(audience="GROUPS", segment_ids=[StaticSegmentFactory().pk]), format="json")

    assert "segment_ids" in assert_error(groups, 400, "validation_error")["details"]
    assert "segment_ids" in assert_error(wrong_kind, 400, "validation_error")["details"]
    assert fine.status_code == 201


def test_a_live_code_names_one_campaign_case_insensitively(admin_client):
    assert admin_client.post(DISCOUNTS, body(), format="json").status_code == 201

    taken = assert_error(admin_client.post(DISCOUNTS, body(code="Diwali20"), format="json"), 409, "code_taken")

    assert taken["details"]["path"] == "code"


def test_changing_an_unknown_or_loyalty_campaign_is_404(admin_client):
    loyalty = CampaignFactory(kind="LOYALTY_PROGRAM")

    assert_error(admin_client.patch(f"{CAMPAIGNS}999999/", {"priority": 1}, format="json"), 404, "not_found")
    assert_error(
        admin_client.patch(f"{CAMPAIGNS}{loyalty.pk}/", {"priority": 1}, format="json"), 404, "not_a_discount_campaign"
    )


@pytest.mark.parametrize(
    ("tiers", "path"),
    [
        ("5%", "rules[0].tiers"),
        ([{"threshold": "many", "value": 5}], "rules[0].tiers[0]"),
        ([{"value": 5}], "rules[0].tiers[0]"),
    ],
)
def test_malformed_tiers_from_the_console_are_refused_not_crashed(tiers, path):
    from campaigns.services.campaigns import campaign_create
    from lms.errors import Invalid

    rule = {"rule_type": "CUSTOM_CART_TOTAL", "discount_type": "PERCENTAGE", "tiers": tiers}
    with pytest.raises(Invalid) as refused:
        campaign_create(name="Tiers", starts_at=timezone.now(), rules=[rule])

    assert path in refused.value.details


@pytest.mark.parametrize(("name", "value"), [("budget", "0"), ("max_discount", "-1"), ("min_cart_value", "-5")])
def test_limits_out_of_range_are_refused_by_the_service_too(name, value):
    from decimal import Decimal

    from campaigns.services.campaigns import campaign_create
    from lms.errors import Invalid

    rule = {"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": Decimal("5")}
    with pytest.raises(Invalid) as refused:
        campaign_create(name="Limits", starts_at=timezone.now(), rules=[rule], **{name: Decimal(value)})

    assert name in refused.value.details


def test_a_duplicate_of_a_shared_code_campaign_needs_its_own_code_before_going_live(admin_client):
    from campaigns.services.campaigns import campaign_duplicate

    original = Campaign.objects.get(pk=admin_client.post(DISCOUNTS, body(), format="json").json()["id"])
    copy = campaign_duplicate(campaign=original)

    refused = admin_client.patch(f"{CAMPAIGNS}{copy.pk}/status/", {"status": "ACTIVE"}, format="json")
    admin_client.patch(f"{CAMPAIGNS}{copy.pk}/", {"code": "DIWALI21"}, format="json")
    accepted = admin_client.patch(f"{CAMPAIGNS}{copy.pk}/status/", {"status": "ACTIVE"}, format="json")

    assert (copy.status, copy.code, copy.name) == ("INACTIVE", "", "Diwali 20 (copy)")
    assert_error(refused, 409, "code_missing")
    assert accepted.status_code == 200 and accepted.json()["code"] == "DIWALI21"
    assert [r["value"] for r in accepted.json()["rules"]] == ["20.00"]


# --- Campaign input -------------------------------------------------------------------------------


def campaign_body(**overrides):
    base = {
        "name": "Diwali 20",
        "starts_at": "2026-10-01T00:00:00+05:30",
        "status": "ACTIVE",
        "redemption_type": "COUPON_CODE",
        "code": "DIWALI20",
        "rules": [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": "20"}],
    }
    return {**base, **overrides}


def test_a_time_zone_must_be_an_iana_name_not_the_servers_local_time(admin_client):
    # "localtime" opens /usr/share/zoneinfo/localtime: whatever zone each server happens to have.
    error = assert_error(
        admin_client.post(DISCOUNTS, campaign_body(timezone="localtime"), format="json"), 400, "validation_error"
    )

    assert "timezone" in error["details"], error
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        (
            {"rules": [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": "20",
                        "max_discount_amount": "500"}]},
            "rules[0].max_discount_amount",
        ),
        (
            {"rules": [{"rule_type": "BULK_PURCHASE", "discount_type": "PERCENTAGE",
                        "tiers": [{"threshold": 3, "value": 5, "upto": 10}]}]},
            "rules[0].tiers[0].upto",
        ),
        ({"notification": {"title": "Diwali", "channel": "EMAIL"}}, "notification.channel"),
    ],
)  # fmt: skip
def test_unknown_fields_inside_rules_tiers_and_notification_are_refused_like_top_level_ones(
    admin_client, overrides, path
):
    # A misspelt cap (max_discount_amount) would otherwise create an uncapped campaign silently.
    error = assert_error(
        admin_client.post(DISCOUNTS, campaign_body(**overrides), format="json"), 400, "validation_error"
    )

    assert path in error["details"], error
    assert not DiscountRule.objects.exists()
