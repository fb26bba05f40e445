"""POST /api/v1/redemptions and /void: consumption, idempotency, 409s, and voids from commerce."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from campaigns.models import CampaignCounter, CouponCode, OrderRedemption, Redemption
from campaigns.tests.factories import CampaignFactory, checkout_body, refused_at
from commerce.tests.factories import order_body
from lms.testing import assert_error
from segments.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

REDEEM = "/api/v1/redemptions"


def checkout(order_id="O-1", email="asha@example.com", **extra):
    return checkout_body(order_id, email, **{"shipping": "50.00", **extra})


def counter(campaign) -> CampaignCounter:
    return CampaignCounter.objects.get(pk=campaign.pk)


def test_a_redemption_consumes_uses_budget_and_the_code_and_keeps_the_amounts(integration_client):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE", budget=Decimal("1000"))
    code = CouponCode.objects.create(campaign=campaign, code="ABCD2345")

    response = integration_client.post(REDEEM, checkout(codes=["abcd2345"]), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["total_discount"] == "100.00" and response.json()["status"] == "REDEEMED"
    assert (counter(campaign).uses, counter(campaign).discount_spent) == (1, Decimal("100.00"))
    code.refresh_from_db()
    assert code.uses == 1
    redemption = Redemption.objects.get()
    assert (redemption.amount, redemption.code, redemption.coupon_code_id) == (Decimal("100.00"), "ABCD2345", code.pk)
    assert redemption.lines == [{"sku": "TEE", "amount": "100.00"}]
    assert redemption.customer.email == "asha@example.com"  # created from the reference


def test_a_retry_gets_the_first_answer_and_another_body_409(integration_client):
    campaign = CampaignFactory()
    first = integration_client.post(REDEEM, checkout(), format="json")

    again = integration_client.post(REDEEM, checkout(), format="json")
    other = integration_client.post(REDEEM, checkout(shipping="0.00"), format="json")

    assert again.status_code == 200 and again.json() == first.json()
    assert_error(other, 409, "idempotency_conflict")
    assert counter(campaign).uses == 1
    assert OrderRedemption.objects.count() == 1


def test_a_code_that_stopped_applying_refuses_the_whole_redemption(integration_client):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="ONCE", usage_limit=1)
    CampaignFactory(name="Automatic")  # would apply, but the redemption is all or nothing
    assert integration_client.post(REDEEM, checkout("O-1", codes=["ONCE"]), format="json").status_code == 201

    error = assert_error(
        integration_client.post(REDEEM, checkout("O-2", "b@example.com", codes=["ONCE"]), format="json"),
        409,
        "usage_limit",
    )

    assert error["details"]["rejected"][0]["code"] == "ONCE"
    assert counter(campaign).uses == 1
    assert not OrderRedemption.objects.filter(order_id="O-2").exists()


def test_an_expected_discount_that_changed_is_409(integration_client):
    CampaignFactory()

    error = assert_error(
        integration_client.post(REDEEM, checkout(expected_total_discount="150.00"), format="json"),
        409,
        "discount_changed",
    )

    assert error["details"]["total_discount"] == "100.00"


def test_void_releases_everything_once(integration_client):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE")
    code = CouponCode.objects.create(campaign=campaign, code="ABCD2345")
    integration_client.post(REDEEM, checkout(codes=["ABCD2345"]), format="json")

    voided = integration_client.post(f"{REDEEM}/O-1/void", {"reason": "cancelled"}, format="json")
    twice = integration_client.post(f"{REDEEM}/O-1/void", {}, format="json")

    assert voided.status_code == 200 and voided.json()["status"] == "VOIDED"
    assert twice.status_code == 200
    assert (counter(campaign).uses, counter(campaign).discount_spent) == (0, Decimal("0.00"))
    code.refresh_from_db()
    assert code.uses == 0
    assert Redemption.objects.get().status == "VOIDED"
    assert integration_client.get(f"{REDEEM}/O-1").json()["status"] == "VOIDED"
    assert_error(integration_client.post(f"{REDEEM}/NOPE/void", {}, format="json"), 404, "redemption_not_found")


def test_a_voided_single_use_code_can_be_used_again(integration_client):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE")
    CouponCode.objects.create(campaign=campaign, code="ABCD2345")
    integration_client.post(REDEEM, checkout("O-1", codes=["ABCD2345"]), format="json")
    integration_client.post(f"{REDEEM}/O-1/void", {}, format="json")

    response = integration_client.post(REDEEM, checkout("O-2", codes=["ABCD2345"]), format="json")

    assert response.status_code == 201 and response.json()["total_discount"] == "100.00"


def test_cancelling_the_order_in_commerce_voids_its_redemption(integration_client):
    campaign = CampaignFactory()
    integration_client.post(REDEEM, checkout("ORD-1"), format="json")
    ingest = integration_client.post(
        "/api/v1/commerce/orders/", order_body("ORD-1", customer={"email": "asha@example.com"}), format="json"
    )
    assert ingest.status_code == 201, ingest.content

    integration_client.patch("/api/v1/commerce/orders/ORD-1/", {"status": "CANCELLED"}, format="json")

    assert OrderRedemption.objects.get(order_id="ORD-1").status == "VOIDED"
    assert counter(campaign).uses == 0


def test_cancelling_another_customers_order_never_voids_a_redemption_under_its_id(integration_client):
    campaign = CampaignFactory()
    integration_client.post(REDEEM, checkout("ORD-1", email="c@example.com"), format="json")
    ingest = integration_client.post(
        "/api/v1/commerce/orders/", order_body("ORD-1", customer={"email": "d@example.com"}), format="json"
    )
    assert ingest.status_code == 201, ingest.content

    integration_client.patch("/api/v1/commerce/orders/ORD-1/", {"status": "CANCELLED"}, format="json")

    assert OrderRedemption.objects.get(order_id="ORD-1").status == "REDEEMED"
    assert counter(campaign).uses == 1


def test_a_backfilled_cancelled_order_of_another_customer_leaves_the_redemption(integration_client):
    CampaignFactory()
    integration_client.post(REDEEM, checkout("ORD-1", email="c@example.com"), format="json")
    orders = [order_body("ORD-1", customer={"email": "d@example.com"}, status="CANCELLED")]

    response = integration_client.post("/api/v1/commerce/orders/bulk", {"orders": orders}, format="json")

    assert response.json()["created"] == 1, response.content
    assert OrderRedemption.objects.get(order_id="ORD-1").status == "REDEEMED"


def test_a_redemption_against_another_customers_ingested_order_is_409(integration_client):
    campaign = CampaignFactory()
    ingest = integration_client.post(
        "/api/v1/commerce/orders/", order_body("ORD-D", customer={"email": "d@example.com"}), format="json"
    )
    assert ingest.status_code == 201, ingest.content

    response = integration_client.post(REDEEM, checkout("ORD-D", email="c@example.com"), format="json")
    own = integration_client.post(REDEEM, checkout("ORD-D", email="d@example.com"), format="json")

    body = assert_error(response, 409, "order_customer_mismatch")
    assert body["details"] == {"order_id": "ORD-D"}
    assert own.status_code == 201, own.content
    assert OrderRedemption.objects.get().customer.email == "d@example.com"
    assert counter(campaign).uses == 1


def test_a_customer_limit_counts_earlier_redemptions(integration_client):
    CampaignFactory(customer_limit=1)
    first = integration_client.post(REDEEM, checkout("O-1"), format="json").json()

    second = integration_client.post(REDEEM, checkout("O-2"), format="json").json()

    assert first["total_discount"] == "100.00"
    assert second["total_discount"] == "0.00"  # automatic: no longer applies, nothing promised
    assert [r["reason"] for r in second["rejected"]] == ["customer_limit"]


def test_only_the_integration_or_an_admin_redeems(customer_client, admin_client):
    CustomerFactory(email="b@example.com")

    assert_error(customer_client.post(REDEEM, checkout(), format="json"), 403, "permission_denied")
    assert admin_client.post(REDEEM, checkout(email="b@example.com"), format="json").status_code == 201


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"order_id": ""}, "order_id"),
        ({"customer": None}, "customer"),
        ({"lines": [{"sku": "TEE", "quantity": -2, "unit_price": "5"}]}, "lines[0].quantity"),
        ({"expected_total_discount": "lots"}, "expected_total_discount"),
    ],
)
def test_bad_redemptions_are_refused_with_the_field_path(integration_client, change, path):
    error = assert_error(
        integration_client.post(REDEEM, {**checkout(), **change}, format="json"), 400, "validation_error"
    )

    assert path in error["details"], error
    assert not OrderRedemption.objects.exists()


def test_a_customer_by_external_id_only_must_exist(integration_client):
    body = {**checkout(), "customer": {"external_id": "NOPE"}}

    assert_error(integration_client.post(REDEEM, body, format="json"), 400, "customer_unknown")


def test_a_code_rejected_for_a_reason_evaluation_already_showed_does_not_refuse(integration_client):
    CampaignFactory()

    response = integration_client.post(REDEEM, checkout(codes=["TYPO"]), format="json")

    assert response.status_code == 201
    assert response.json()["total_discount"] == "100.00"
    assert [r["reason"] for r in response.json()["rejected"]] == ["code_unknown"]


def test_a_retry_that_writes_the_same_amounts_differently_is_the_same_body(integration_client):
    CampaignFactory()
    first = integration_client.post(REDEEM, checkout(shipping="50.00"), format="json")

    again = integration_client.post(REDEEM, {**checkout(), "shipping": 50}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)


def test_a_backfilled_batch_of_cancelled_orders_voids_their_redemptions(integration_client):
    campaign = CampaignFactory()
    for n in range(3):
        integration_client.post(REDEEM, checkout(f"ORD-{n}"), format="json")
    orders = [order_body(f"ORD-{n}", customer={"email": "asha@example.com"}, status="CANCELLED") for n in range(3)]

    response = integration_client.post("/api/v1/commerce/orders/bulk", {"orders": orders}, format="json")

    assert response.json()["created"] == 3, response.content
    assert set(OrderRedemption.objects.values_list("status", flat=True)) == {"VOIDED"}
    assert counter(campaign).uses == 0


# --- Order ids, pinned times, amounts, refused requests -------------------------------------------


def test_an_order_id_accepted_by_a_redemption_can_be_read_and_voided(integration_client):
    CampaignFactory()

    created = integration_client.post(REDEEM, checkout_body("WEB/2024/17"), format="json")

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


def test_a_redemption_may_not_pin_a_time_after_now_to_use_a_campaign_not_started(integration_client):
    campaign = CampaignFactory(starts_at=timezone.now() + dt.timedelta(days=1))
    later = (timezone.now() + dt.timedelta(days=2)).isoformat()

    response = integration_client.post(REDEEM, checkout_body(at=later), format="json")

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

    first = integration_client.post(REDEEM, checkout_body("O-1", at=at), format="json").json()
    second = integration_client.post(REDEEM, checkout_body("O-2", at=at), format="json").json()

    assert first["total_discount"] == "100.00", first
    assert second["total_discount"] == "0.00", second  # once a day, judged on the same day
    assert [r["reason"] for r in second["rejected"]] == ["customer_limit"], second
    assert Redemption.objects.filter(status="REDEEMED").count() == 1


def test_cart_totals_a_redemption_cannot_store_are_refused_with_the_field_path(integration_client):
    CampaignFactory()
    lines = [{"sku": "GOLD", "quantity": 100_000, "unit_price": "9999999999.99"}]

    response = integration_client.post(REDEEM, {**checkout_body(), "lines": lines}, format="json")

    body = refused_at(response, "lines")
    assert body["code"] == "validation_error", body
    assert not OrderRedemption.objects.exists()


def test_a_refused_redemption_creates_no_customer(integration_client):
    old = (timezone.now() - dt.timedelta(days=3)).isoformat()

    assert_error(
        integration_client.post(REDEEM, checkout_body(email="new@example.com", at=old), format="json"),
        400,
        "at_too_old",
    )

    assert not User.objects.filter(email="new@example.com").exists()
