"""Bad input to the loyalty API: each is refused in the one error shape, naming the field's
path, and writes nothing (never a 500)."""

import json
import re
from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from campaigns.models import Campaign
from campaigns.tests.factories import CampaignFactory
from commerce.tests.factories import CategoryFactory
from lms.testing import assert_error
from loyalty.models import EarningRule, LoyaltyAccount, PointsTransaction, ProgramSettings, Tier
from loyalty.services.ledger import points_adjust
from loyalty.tests.factories import program_make

pytestmark = pytest.mark.django_db

PROGRAMS = "/api/v1/loyalty/programs/"
REDEEM = "/api/v1/loyalty/redeem"
EVALUATE = "/api/v1/cart/evaluate"
REDEMPTIONS = "/api/v1/redemptions"
MY_TRANSACTIONS = "/api/v1/loyalty/me/transactions/"

RATE = {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "1"}
STREAK = {"rule_type": "DAILY_LOGIN_STREAK", "base_points": 5}


def refused(response, status: int, code: str, path: str) -> dict:
    """The error shape with this status and code, naming ``path`` (a details key or details.path)."""
    body = assert_error(response, status, code)
    assert path in body["details"] or body["details"].get("path") == path, body
    return body


def body_code(response) -> str:
    return json.loads(response.content).get("code", "")


def program_body(**overrides) -> dict:
    base = {"name": "Club", "starts_at": "2025-01-01T00:00:00Z", "status": "ACTIVE", "rules": [RATE]}
    return {**base, **overrides}


def nothing_stored() -> bool:
    return not (
        Campaign.objects.exists()
        or ProgramSettings.objects.exists()
        or EarningRule.objects.exists()
        or Tier.objects.exists()
    )


# --- Programs ---------------------------------------------------------------------------------------

UNKNOWN_CATEGORY = 987654


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        # rates
        ({"rules": [{**RATE, "points_per_rupee": "0"}]}, "rules[0].points_per_rupee"),
        ({"rules": [{**RATE, "points_per_rupee": "-2"}]}, "rules[0].points_per_rupee"),
        ({"rules": [{"rule_type": "POINTS_PER_RUPEE"}]}, "rules[0].points_per_rupee"),
        ({"rules": [{**RATE, "points_per_rupee": "ten"}]}, "rules[0].points_per_rupee"),
        ({"rules": [RATE, {"rule_type": "CATEGORY_POINTS", "points_per_rupee": "0", "category_ids": [1]}]},
         "rules[1].points_per_rupee"),
        ({"rules": [{**RATE, "min_order_value": "-1"}]}, "rules[0].min_order_value"),
        # login streaks
        ({"rules": [{**STREAK, "streak_steps": [{"days": 5, "multiplier": "2"}, {"days": 3, "multiplier": "3"}]}]},
         "rules[0].streak_steps[1].days"),
        ({"rules": [{**STREAK, "streak_steps": [{"days": 3, "multiplier": "2"}, {"days": 3, "multiplier": "3"}]}]},
         "rules[0].streak_steps[1].days"),
        ({"rules": [RATE, {**STREAK, "streak_steps": [{"days": 1, "multiplier": "2"}]}]},
         "rules[1].streak_steps[0].days"),
        ({"rules": [{**STREAK, "streak_steps": [{"days": 3, "multiplier": "0.5"}]}]},
         "rules[0].streak_steps[0].multiplier"),
        ({"rules": [{**STREAK, "streak_steps": [{"days": 3, "multiplier": "3"}, {"days": 7, "multiplier": "2"}]}]},
         "rules[0].streak_steps[1].multiplier"),
        ({"rules": [{**STREAK, "streak_steps": [{"days": 3}]}]}, "rules[0].streak_steps[0].multiplier"),
        ({"rules": [{**STREAK, "streak_steps": [{"days": 3, "multiplier": "2", "bonus": 1}]}]},
         "rules[0].streak_steps[0].bonus"),
        ({"rules": [{**STREAK, "max_multiplier": "0.9"}]}, "rules[0].max_multiplier"),
        ({"rules": [{"rule_type": "DAILY_LOGIN_STREAK"}]}, "rules[0].base_points"),
        ({"rules": [{**STREAK, "base_points": 0}]}, "rules[0].base_points"),
        # first purchase bonus
        ({"rules": [{"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 100, "bonus_percent": "5"}]},
         "rules[0].bonus_points"),
        ({"rules": [{"rule_type": "FIRST_PURCHASE_BONUS"}]}, "rules[0].bonus_points"),
        ({"rules": [{"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 0}]}, "rules[0].bonus_points"),
        ({"rules": [{"rule_type": "FIRST_PURCHASE_BONUS", "bonus_percent": "101"}]}, "rules[0].bonus_percent"),
        ({"rules": [{"rule_type": "FIRST_PURCHASE_BONUS", "bonus_percent": "0"}]}, "rules[0].bonus_percent"),
        # categories
        ({"rules": [RATE, {"rule_type": "CATEGORY_POINTS", "points_per_rupee": "2", "category_ids": [UNKNOWN_CATEGORY]}]},
         "rules[1].category_ids"),
        ({"rules": [{"rule_type": "CATEGORY_POINTS", "points_per_rupee": "2"}]}, "rules[0].category_ids"),
        ({"rules": [{"rule_type": "CATEGORY_POINTS", "points_per_rupee": "2", "category_ids": [0]}]},
         "rules[0].category_ids[0]"),
        # fields a rule type does not take
        ({"rules": [{**RATE, "bonus_points": 10}]}, "rules[0].bonus_points"),
        ({"rules": [{**RATE, "category_ids": [1]}]}, "rules[0].category_ids"),
        ({"rules": [{**STREAK, "points_per_rupee": "1"}]}, "rules[0].points_per_rupee"),
        ({"rules": [{**STREAK, "min_order_value": "100"}]}, "rules[0].min_order_value"),
        ({"rules": [{"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 10, "base_points": 5}]},
         "rules[0].base_points"),
        ({"rules": [{**RATE, "streak_steps": [{"days": 3, "multiplier": "2"}]}]}, "rules[0].streak_steps"),
        # the rule list
        ({"rules": []}, "rules"),
        ({"rules": "all of them"}, "rules"),
        ({"rules": [RATE, {**RATE, "points_per_rupee": "2"}]}, "rules[1].rule_type"),
        ({"rules": [{"rule_type": "BOGUS"}]}, "rules[0].rule_type"),
        ({"rules": [{**RATE, "rounding": "SIDEWAYS"}]}, "rules[0].rounding"),
        ({"rules": [{**RATE, "points": 3}]}, "rules[0].points"),
        # tiers
        ({"tiers": [{"name": "Silver", "threshold": "100"}, {"name": "Gold", "threshold": "100"}]}, "tiers[1].threshold"),
        ({"tiers": [{"name": "Gold", "threshold": "500"}, {"name": "Silver", "threshold": "0"},
                    {"name": "Bronze", "threshold": "500"}]}, "tiers[2].threshold"),
        ({"tiers": [{"name": "Gold", "threshold": "0"}, {"name": " gold ", "threshold": "100"}]}, "tiers[1].name"),
        ({"tiers": [{"name": "Gold", "threshold": "0", "multiplier": "0.5"}]}, "tiers[0].multiplier"),
        ({"tiers": [{"name": "Silver", "threshold": "0", "multiplier": "2"},
                    {"name": "Gold", "threshold": "100", "multiplier": "1.5"}]}, "tiers[1].multiplier"),
        ({"tiers": [{"name": "Gold", "threshold": "-1"}]}, "tiers[0].threshold"),
        ({"tiers": [{"name": "  ", "threshold": "0"}]}, "tiers[0].name"),
        ({"tiers": [{"name": "Gold"}]}, "tiers[0].threshold"),
        ({"tiers": [{"name": "Gold", "threshold": "0", "colour": "gold"}]}, "tiers[0].colour"),
        # settings
        ({"point_value": "0"}, "point_value"),
        ({"point_value": "-0.10"}, "point_value"),
        ({"min_redeem_points": 0}, "min_redeem_points"),
        ({"expiry_days": 0}, "expiry_days"),
        ({"tier_basis": "SPEND"}, "tier_window_days"),
        ({"tier_window_days": 365}, "tier_window_days"),
        ({"tier_basis": "VISITS"}, "tier_basis"),
        # the hold on order points
        ({"hold_days": -1}, "hold_days"),
        ({"hold_days": 366}, "hold_days"),
        ({"hold_days": "a week"}, "hold_days"),
        ({"hold_days": None}, "hold_days"),
        ({"return_window_days": -1}, "return_window_days"),
        ({"return_window_days": 7}, "return_window_days"),
        ({"hold_until_fulfilled": "maybe"}, "hold_until_fulfilled"),
        ({"hold_until_fulfilled": True, "hold_days": 7}, "hold_until_fulfilled"),
        # the campaign fields programs share
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"ends_at": "2024-01-01T00:00:00Z"}, "ends_at"),
        ({"weekdays": ["FUNDAY"]}, "weekdays[0]"),
        ({"audience": "SEGMENTS"}, "segment_ids"),
        ({"starts_at": "not a date"}, "starts_at"),
        # unknown fields
        ({"kind": "DISCOUNT_COUPON"}, "kind"),
        ({"code": "GOLD"}, "code"),
        ({"colour": "gold"}, "colour"),
        ({"name": ""}, "name"),
    ],
)  # fmt: skip
def test_bad_programs_are_refused_with_the_field_path(admin_client, overrides, path):
    response = admin_client.post(PROGRAMS, program_body(**overrides), format="json")

    refused(response, 400, "validation_error", path)
    assert nothing_stored()


def test_a_change_to_a_second_hold_is_refused_and_the_program_keeps_its_hold(admin_client):
    program = program_make(settings={"hold_until_fulfilled": True, "return_window_days": 7})

    both = admin_client.patch(f"{PROGRAMS}{program.pk}/", {"hold_days": 3}, format="json")
    window_alone = admin_client.patch(f"{PROGRAMS}{program.pk}/", {"hold_until_fulfilled": False}, format="json")

    refused(both, 400, "validation_error", "hold_until_fulfilled")
    refused(window_alone, 400, "validation_error", "return_window_days")
    stored = ProgramSettings.objects.get()
    assert (stored.hold_days, stored.hold_until_fulfilled, stored.return_window_days) == (0, True, 7)


def test_a_program_without_rules_is_refused(admin_client):
    body = program_body()
    del body["rules"]

    refused(admin_client.post(PROGRAMS, body, format="json"), 400, "validation_error", "rules")
    assert nothing_stored()


def test_a_category_id_that_exists_is_taken_and_one_that_does_not_is_named(admin_client):
    known = CategoryFactory()
    rule = {"rule_type": "CATEGORY_POINTS", "points_per_rupee": "2", "category_ids": [known.pk, UNKNOWN_CATEGORY]}

    body = refused(admin_client.post(PROGRAMS, program_body(rules=[rule]), format="json"), 400, "validation_error",
                   "rules[0].category_ids")  # fmt: skip

    # Compared as numbers: the known id's digits may well appear inside the unknown one.
    assert re.findall(r"\d+", body["message"].split(":")[-1]) == [str(UNKNOWN_CATEGORY)]


@pytest.mark.parametrize(
    "raw",
    ['{"name": "Club",', "name=Club", "[1, 2, 3]", '"a string"', "null"],
)
def test_a_body_that_is_not_a_json_object_is_a_400(admin_client, raw):
    response = admin_client.post(PROGRAMS, raw, content_type="application/json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"code", "message", "details"}
    assert nothing_stored()


def test_a_bad_change_leaves_the_program_as_it_was(admin_client):
    program = program_make(tiers=[{"name": "Gold", "threshold": Decimal("100")}])
    rules_before = list(EarningRule.objects.values_list("id", "points_per_rupee"))

    bad_rules = admin_client.patch(
        f"{PROGRAMS}{program.pk}/", {"name": "New", "rules": [{**RATE, "points_per_rupee": "0"}]}, format="json"
    )
    bad_tiers = admin_client.patch(
        f"{PROGRAMS}{program.pk}/",
        {"tiers": [{"name": "A", "threshold": "5"}, {"name": "B", "threshold": "5"}]},
        format="json",
    )
    bad_settings = admin_client.patch(f"{PROGRAMS}{program.pk}/", {"tier_basis": "SPEND"}, format="json")
    bad_point_value = admin_client.patch(f"{PROGRAMS}{program.pk}/", {"point_value": "0"}, format="json")

    refused(bad_rules, 400, "validation_error", "rules[0].points_per_rupee")
    refused(bad_tiers, 400, "validation_error", "tiers[1].threshold")
    refused(bad_settings, 400, "validation_error", "tier_window_days")
    refused(bad_point_value, 400, "validation_error", "point_value")
    assert Campaign.objects.get(pk=program.pk).name == "Rewards"
    assert list(EarningRule.objects.values_list("id", "points_per_rupee")) == rules_before
    assert list(Tier.objects.values_list("name", "threshold")) == [("Gold", Decimal("100.00"))]
    assert ProgramSettings.objects.get().point_value == Decimal("0.10")


def test_a_bad_status_is_refused(admin_client):
    program = program_make()

    response = admin_client.patch(f"{PROGRAMS}{program.pk}/status/", {"status": "PAUSED"}, format="json")

    refused(response, 400, "validation_error", "status")
    assert Campaign.objects.get(pk=program.pk).status == "ACTIVE"


def test_a_program_id_that_is_not_a_number_is_404(admin_client):
    assert_error(admin_client.get(f"{PROGRAMS}abc/"), 404, "not_found")
    assert_error(admin_client.get(f"{PROGRAMS}99999999999999999999999/"), 404, "not_found")


# --- Redeem ----------------------------------------------------------------------------------------


@pytest.fixture
def club(customer):
    program = program_make(settings={"min_redeem_points": 10})
    points_adjust(customer=customer, program_id=program.pk, points=100, reason="welcome", by=None)
    return program


def redeem_body(program_id, points=20, order_id="ORD-1", **extra) -> dict:
    return {"program_id": program_id, "points": points, "order_id": order_id, **extra}


@pytest.mark.parametrize(("points", "code"), [(0, "points_not_positive"), (-5, "points_not_positive")])
def test_redeeming_zero_or_negative_points_is_refused(customer_client, club, points, code):
    response = customer_client.post(REDEEM, redeem_body(club.pk, points), format="json")

    refused(response, 400, code, "points")
    assert not PointsTransaction.objects.filter(kind="REDEEM").exists()


def test_redeeming_fewer_than_the_minimum_is_refused(customer_client, club):
    refused(customer_client.post(REDEEM, redeem_body(club.pk, 9), format="json"), 400, "below_min_points", "points")


def test_redeeming_in_a_discount_campaign_is_not_a_loyalty_program(customer_client, club):
    campaign = CampaignFactory(kind="DISCOUNT_COUPON")

    response = customer_client.post(REDEEM, redeem_body(campaign.pk), format="json")

    refused(response, 400, "not_a_loyalty_program", "program_id")


def test_redeeming_in_an_unknown_program_is_404(customer_client, club):
    assert_error(customer_client.post(REDEEM, redeem_body(999999), format="json"), 404, "program_not_found")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"order_id": "WEB/2024/17"}, "order_id"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "x" * 65}, "order_id"),
        ({"points": "many"}, "points"),
        ({"points": 1.5}, "points"),
        ({"program_id": "club"}, "program_id"),
        ({"program_id": 0}, "program_id"),
        ({"program_id": 2**64}, "program_id"),
        ({"points": 10**12}, "points"),
        ({"colour": "red"}, "colour"),
        ({"customer": {"phone": "123"}}, "customer.phone"),
        ({"customer": "asha"}, "customer"),
    ],
)
def test_bad_redemptions_name_the_field(customer_client, club, body, path):
    response = customer_client.post(REDEEM, {**redeem_body(club.pk), **body}, format="json")

    refused(response, 400, "validation_error", path)
    assert not PointsTransaction.objects.filter(kind="REDEEM").exists()


def test_a_redemption_missing_its_fields_names_each(customer_client, club):
    body = assert_error(customer_client.post(REDEEM, {}, format="json"), 400, "validation_error")

    assert {"program_id", "points", "order_id"} <= set(body["details"]), body


def test_a_redemption_body_that_is_not_json_is_a_400(customer_client, club):
    response = customer_client.post(REDEEM, "points=5", content_type="application/json")

    assert response.status_code == 400 and set(response.json()) == {"code", "message", "details"}


def test_the_integration_naming_an_unknown_customer_is_404(integration_client, club):
    response = integration_client.post(REDEEM, redeem_body(club.pk, customer={"id": 999999}), format="json")

    assert_error(response, 404, "customer_not_found")


# --- use_points in the checkout ---------------------------------------------------------------------


def cart(**extra) -> dict:
    return {
        "customer": {"email": "asha@example.com"},
        "lines": [{"sku": "TEE", "quantity": 1, "unit_price": "500"}],
        **extra,
    }


def test_use_points_with_a_discount_campaign_id_names_use_points_program_id(integration_client, club):
    campaign = CampaignFactory()

    evaluated = integration_client.post(
        EVALUATE, cart(use_points={"program_id": campaign.pk, "points": 20}), format="json"
    )
    redeemed = integration_client.post(
        REDEMPTIONS, {"order_id": "W-1", **cart(use_points={"program_id": campaign.pk, "points": 20})}, format="json"
    )

    refused(evaluated, 400, "not_a_loyalty_program", "use_points.program_id")
    refused(redeemed, 400, "not_a_loyalty_program", "use_points.program_id")
    assert not PointsTransaction.objects.filter(kind="REDEEM").exists()


def test_use_points_with_an_unknown_program_is_404(integration_client, club):
    response = integration_client.post(EVALUATE, cart(use_points={"program_id": 999999, "points": 20}), format="json")

    assert_error(response, 404, "program_not_found")


@pytest.mark.parametrize(
    ("use_points", "path"),
    [
        ({"program_id": 1, "points": 0}, "use_points.points"),
        ({"program_id": 1, "points": -3}, "use_points.points"),
        ({"program_id": 1}, "use_points.points"),
        ({"points": 5}, "use_points.program_id"),
        ({"program_id": 1, "points": 5, "value": "10"}, "use_points.value"),
        ("all", "use_points"),
    ],
)
def test_bad_use_points_name_the_field(integration_client, club, use_points, path):
    response = integration_client.post(EVALUATE, cart(use_points=use_points), format="json")

    refused(response, 400, "validation_error", path)


# --- Adjust -----------------------------------------------------------------------------------------


def adjust(client, customer, **body):
    return client.post(f"/api/v1/loyalty/accounts/{customer.pk}/adjust", body, format="json")


def test_adjusting_by_zero_points_is_refused(admin_client, customer, club):
    refused(adjust(admin_client, customer, program_id=club.pk, points=0, reason="x"), 400, "points_zero", "points")
    assert PointsTransaction.objects.count() == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_adjusting_without_a_reason_is_refused(admin_client, customer, club, reason):
    response = adjust(admin_client, customer, program_id=club.pk, points=5, reason=reason)

    refused(response, 400, body_code(response), "reason")
    assert PointsTransaction.objects.count() == 1


def test_adjusting_in_a_discount_campaign_or_an_unknown_program_is_refused(admin_client, customer, club):
    campaign = CampaignFactory()

    refused(adjust(admin_client, customer, program_id=campaign.pk, points=5, reason="x"), 400, "not_a_loyalty_program",
            "program_id")  # fmt: skip
    assert_error(adjust(admin_client, customer, program_id=999999, points=5, reason="x"), 404, "program_not_found")
    assert not LoyaltyAccount.objects.filter(program_id=campaign.pk).exists()


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"points": "five"}, "points"),
        ({"points": 10**10}, "points"),
        ({"reason": "x" * 256}, "reason"),
        ({"idempotency_key": "k" * 101}, "idempotency_key"),
        ({"expires_at": "2030-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_bad_adjustments_name_the_field(admin_client, customer, club, body, path):
    response = adjust(admin_client, customer, **{"program_id": club.pk, "points": 5, "reason": "x", **body})

    refused(response, 400, "validation_error", path)
    assert PointsTransaction.objects.count() == 1


def test_naming_the_customer_by_an_unknown_kind_of_key_is_a_400(admin_client, customer, club):
    response = admin_client.post(
        f"/api/v1/loyalty/accounts/{customer.pk}/adjust?by=phone", {"program_id": club.pk, "points": 5, "reason": "x"},
        format="json",
    )  # fmt: skip

    body = assert_error(response, 400, "invalid_parameter")
    assert body["details"].get("param") == "by"


@pytest.mark.parametrize("ref", ["abc", "99999999999999999999999", "-1"])
def test_a_customer_id_that_is_not_one_is_404(admin_client, club, ref):
    response = admin_client.post(
        f"/api/v1/loyalty/accounts/{ref}/adjust", {"program_id": club.pk, "points": 5, "reason": "x"}, format="json"
    )

    assert_error(response, 404, "customer_not_found")


# --- Transaction filters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"kind": "BOGUS"}, {"program_id": "club"}, {"limit": "many"}, {"page": "0"}],
)
def test_bad_transaction_filters_are_a_400_or_404_not_a_500(customer_client, club, params):
    response = customer_client.get(MY_TRANSACTIONS, params)

    assert response.status_code in (400, 404), response.content
    assert set(response.json()) == {"code", "message", "details"}


def test_a_program_id_filter_out_of_range_answers_nothing_rather_than_a_500(customer_client, club):
    response = customer_client.get(MY_TRANSACTIONS, {"program_id": "99999999999999999999999"})

    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert response.json()["results"] == []


def test_another_customers_program_filter_shows_nothing_of_theirs(customer_client, club):
    other = UserFactory(password=None)
    points_adjust(customer=other, program_id=club.pk, points=5, reason="x", by=None)

    rows = customer_client.get(MY_TRANSACTIONS, {"program_id": club.pk}).json()["results"]

    assert [row["points"] for row in rows] == [100]
