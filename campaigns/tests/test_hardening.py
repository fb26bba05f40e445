"""Findings of an adversarial review of the campaigns API, services and selectors: each test
states the behaviour the code should have (bad input is a 400/404 naming the field, never a
500; limits hold; what is accepted can be reached again)."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from accounts.models import User
from campaigns.models import Campaign, CampaignCounter, DiscountRule, OrderRedemption, Redemption
from campaigns.tests.factories import CampaignFactory
from lms.testing import assert_error

pytestmark = pytest.mark.django_db

EVALUATE = "/api/v1/cart/evaluate"
REDEEM = "/api/v1/redemptions"
DISCOUNTS = "/api/v1/campaigns/discounts/"


def cart(**extra):
    return {"lines": [{"sku": "TEE", "quantity": 2, "unit_price": "500.00"}], **extra}


def checkout(order_id="O-1", email="asha@example.com", **extra):
    return {"order_id": order_id, "customer": {"email": email}, **cart(), **extra}


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


def refused_at(response, path: str) -> dict:
    """A 400 in the error shape that names ``path`` (as a details key or as details.path)."""
    assert response.status_code == 400, response.content
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "details"}, body
    assert path in body["details"] or body["details"].get("path") == path, body
    return body


# --- Order ids in the URL ------------------------------------------------------------------------


def test_an_order_id_accepted_by_a_redemption_can_be_read_and_voided(integration_client):
    CampaignFactory()

    created = integration_client.post(REDEEM, checkout("WEB/2024/17"), format="json")

    if created.status_code == 400:  # refusing such an id up front is a fix too
        refused_at(created, "order_id")
        return
    assert created.status_code == 201, created.content
    read = integration_client.get(f"{REDEEM}/WEB%2F2024%2F17")
    voided = integration_client.post(f"{REDEEM}/WEB%2F2024%2F17/void", {}, format="json")
    assert read.status_code == 200, read.content
    assert voided.status_code == 200, voided.content
    assert OrderRedemption.objects.get(order_id="WEB/2024/17").status == "VOIDED"


def test_a_nul_in_the_order_id_of_the_url_is_not_found(integration_client):
    assert integration_client.get(f"{REDEEM}/A%00B").status_code == 404
    assert integration_client.post(f"{REDEEM}/A%00B/void", {}, format="json").status_code == 404


# --- The pinned time `at` ------------------------------------------------------------------------


def test_a_pinned_time_at_the_end_of_the_calendar_is_refused_not_a_500(integration_client):
    CampaignFactory(timezone="Pacific/Kiritimati")  # UTC+14: 9999-12-31 18:00 UTC is past year 9999 there
    integration_client.raise_request_exception = False

    response = integration_client.post(EVALUATE, cart(at="9999-12-31T18:00:00Z"), format="json")

    refused_at(response, "at")


def test_a_redemption_may_not_pin_a_time_after_now_to_use_a_campaign_not_started(integration_client):
    campaign = CampaignFactory(starts_at=timezone.now() + dt.timedelta(days=1))
    later = (timezone.now() + dt.timedelta(days=2)).isoformat()

    response = integration_client.post(REDEEM, checkout(at=later), format="json")

    refused_at(response, "at")
    assert CampaignCounter.objects.get(pk=campaign.pk).uses == 0
    assert not Redemption.objects.exists()


def _zone_where_two_hours_ago_was_yesterday() -> str:
    """A fixed-offset zone whose local time now is between 01:00 and 02:00."""
    offset = (1 - timezone.now().hour) % 24
    offset = offset - 24 if offset > 12 else offset
    return f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-5 is UTC+5


def test_a_per_day_limit_holds_for_redemptions_pinned_to_the_same_earlier_day(integration_client):
    CampaignFactory(timezone=_zone_where_two_hours_ago_was_yesterday(), period="DAY", period_limit=1)
    at = (timezone.now() - dt.timedelta(hours=2)).isoformat()  # yesterday on the campaign's clock

    first = integration_client.post(REDEEM, checkout("O-1", at=at), format="json").json()
    second = integration_client.post(REDEEM, checkout("O-2", at=at), format="json").json()

    assert first["total_discount"] == "100.00", first
    assert second["total_discount"] == "0.00", second  # once a day, judged on the same day
    assert [r["reason"] for r in second["rejected"]] == ["customer_limit"], second
    assert Redemption.objects.filter(status="REDEEMED").count() == 1


# --- Amounts a redemption must store ------------------------------------------------------------


def test_cart_totals_a_redemption_cannot_store_are_refused_with_the_field_path(integration_client):
    CampaignFactory()
    lines = [{"sku": "GOLD", "quantity": 100_000, "unit_price": "9999999999.99"}]

    response = integration_client.post(REDEEM, {**checkout(), "lines": lines}, format="json")

    body = refused_at(response, "lines")
    assert body["code"] == "validation_error", body
    assert not OrderRedemption.objects.exists()


# --- Campaign input ------------------------------------------------------------------------------


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


# --- Side effects of refused requests -----------------------------------------------------------


def test_a_refused_redemption_creates_no_customer(integration_client):
    old = (timezone.now() - dt.timedelta(days=3)).isoformat()

    assert_error(
        integration_client.post(REDEEM, checkout(email="new@example.com", at=old), format="json"), 400, "at_too_old"
    )

    assert not User.objects.filter(email="new@example.com").exists()
