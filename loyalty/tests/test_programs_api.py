"""Loyalty programs over HTTP: create (canonical and seed route), list, detail, change, status,
delete or archive, their place among the campaigns, and who may manage them."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, CampaignKind
from commerce.tests.factories import CategoryFactory
from lms.testing import assert_error
from loyalty.models import EarningRule, LoyaltyAccount, PointsTransaction, ProgramSettings, Tier
from loyalty.services.ledger import points_adjust
from loyalty.tests.factories import BILLION, give_billion, give_ten_billion, no_raise, order_for, program_make
from segments.tests.factories import StaticSegmentFactory

pytestmark = pytest.mark.django_db

PROGRAMS = "/api/v1/loyalty/programs/"
SEED_CREATE = "/campaigns/loyaltyprogram/create"
CAMPAIGNS = "/api/v1/campaigns/"
ORDERS = "/api/v1/commerce/orders/"


def program_body(**overrides):
    base = {
        "name": "Gold Club",
        "description": "Points on every order",
        "starts_at": "2025-01-01T00:00:00+05:30",
        "status": "ACTIVE",
        "timezone": "Asia/Kolkata",
        "point_value": "0.25",
        "min_redeem_points": 100,
        "expiry_days": 365,
        "rules": [
            {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "0.5", "rounding": "NEAREST"},
            {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 200},
            {
                "rule_type": "DAILY_LOGIN_STREAK",
                "base_points": 5,
                "streak_steps": [{"days": 3, "multiplier": "2"}, {"days": 7, "multiplier": "3"}],
                "max_multiplier": "3",
            },
        ],
        "tiers": [
            {"name": "Silver", "threshold": "0"},
            {"name": "Gold", "threshold": "5000", "multiplier": "1.5", "benefits": "Free shipping"},
        ],
    }
    return {**base, **overrides}


def detail(program_id) -> str:
    return f"{PROGRAMS}{program_id}/"


def without_volatile(answer: dict) -> dict:
    """The answer without what differs between two programs made from one body."""
    answer = {k: v for k, v in answer.items() if k not in ("id", "created_at", "updated_at")}
    answer["rules"] = [{k: v for k, v in r.items() if k != "id"} for r in answer["rules"]]
    answer["tiers"] = [{k: v for k, v in t.items() if k != "id"} for t in answer["tiers"]]
    return answer


# --- Create ------------------------------------------------------------------------------------


def test_create_answers_the_program_with_its_settings_rules_and_tiers(admin_client, admin_user):
    response = admin_client.post(PROGRAMS, program_body(), format="json")

    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["kind"] == "LOYALTY_PROGRAM" and answer["status"] == "ACTIVE" and answer["archived"] is False
    assert (answer["point_value"], answer["min_redeem_points"], answer["expiry_days"]) == ("0.2500", 100, 365)
    assert (answer["tier_basis"], answer["tier_window_days"]) == ("LIFETIME_POINTS", None)
    assert [r["rule_type"] for r in answer["rules"]] == [
        "POINTS_PER_RUPEE",
        "FIRST_PURCHASE_BONUS",
        "DAILY_LOGIN_STREAK",
    ]
    assert answer["rules"][0]["points_per_rupee"] == "0.5000" and answer["rules"][0]["rounding"] == "NEAREST"
    assert answer["rules"][2]["streak_steps"] == [{"days": 3, "multiplier": "2.00"}, {"days": 7, "multiplier": "3.00"}]
    assert [(t["name"], t["threshold"], t["multiplier"]) for t in answer["tiers"]] == [
        ("Silver", "0.00", "1.00"),
        ("Gold", "5000.00", "1.50"),
    ]
    assert (answer["liability"]["members"], answer["liability"]["outstanding_points"]) == (0, 0)
    program = Campaign.objects.get(pk=answer["id"])
    assert program.kind == CampaignKind.LOYALTY_PROGRAM and program.created_by == admin_user
    assert ProgramSettings.objects.get(program=program).point_value == Decimal("0.25")
    assert EarningRule.objects.filter(program=program).count() == 3
    assert Tier.objects.filter(program=program).count() == 2


def test_a_program_holds_order_points_by_days_or_until_fulfilment_plus_a_window(admin_client):
    plain = admin_client.post(PROGRAMS, program_body(), format="json").json()
    by_days = admin_client.post(PROGRAMS, program_body(name="Days", hold_days=14), format="json").json()
    until = admin_client.post(
        PROGRAMS, program_body(name="Shipped", hold_until_fulfilled=True, return_window_days=7), format="json"
    ).json()
    changed = admin_client.patch(
        f"{PROGRAMS}{until['id']}/", {"hold_until_fulfilled": False, "return_window_days": 0, "hold_days": 3},
        format="json",
    ).json()  # fmt: skip

    def hold(answer: dict) -> tuple:
        return answer["hold_days"], answer["hold_until_fulfilled"], answer["return_window_days"]

    assert hold(plain) == (0, False, 0)  # no hold: points are spendable at once
    assert hold(by_days) == (14, False, 0)
    assert hold(until) == (0, True, 7)
    assert hold(changed) == (3, False, 0)


def test_the_seed_route_creates_a_program_with_the_same_answer(admin_client):
    canonical = admin_client.post(PROGRAMS, program_body(), format="json")
    seed = admin_client.post(SEED_CREATE, program_body(), format="json")

    assert canonical.status_code == 201, canonical.content
    assert seed.status_code == 201, seed.content
    assert seed.json()["id"] != canonical.json()["id"]
    assert without_volatile(seed.json()) == without_volatile(canonical.json())
    assert Campaign.objects.filter(kind=CampaignKind.LOYALTY_PROGRAM).count() == 2


def test_a_category_rule_keeps_its_categories(admin_client):
    shoes = CategoryFactory(name="Shoes")
    body = program_body(
        rules=[
            {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "1"},
            {"rule_type": "CATEGORY_POINTS", "points_per_rupee": "3", "category_ids": [shoes.pk]},
        ]
    )

    response = admin_client.post(PROGRAMS, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["rules"][1]["category_ids"] == [shoes.pk]
    rule = EarningRule.objects.get(rule_type="CATEGORY_POINTS")
    assert list(rule.categories.values_list("pk", flat=True)) == [shoes.pk]


# --- List and detail -----------------------------------------------------------------------------


def test_the_list_is_paginated_newest_first(admin_client):
    ids = [admin_client.post(PROGRAMS, program_body(name=f"P{n}"), format="json").json()["id"] for n in range(3)]

    first = admin_client.get(PROGRAMS, {"page": 1, "limit": 2}).json()
    second = admin_client.get(PROGRAMS, {"page": 2, "limit": 2}).json()

    assert (first["count"], first["page"], first["limit"], first["pages"]) == (3, 1, 2, 2)
    assert [p["id"] for p in first["results"]] + [p["id"] for p in second["results"]] == ids[::-1]


def test_the_list_filters_by_status(admin_client):
    on = admin_client.post(PROGRAMS, program_body(name="On"), format="json").json()["id"]
    off = admin_client.post(PROGRAMS, program_body(name="Off", status="INACTIVE"), format="json").json()["id"]

    active = admin_client.get(PROGRAMS, {"status": "ACTIVE"}).json()["results"]
    inactive = admin_client.get(PROGRAMS, {"status": "INACTIVE"}).json()["results"]

    assert [p["id"] for p in active] == [on]
    assert [p["id"] for p in inactive] == [off]


def test_the_list_leaves_out_discount_campaigns(admin_client):
    from campaigns.tests.factories import CampaignFactory

    CampaignFactory()
    program = program_make()

    results = admin_client.get(PROGRAMS).json()["results"]

    assert [p["id"] for p in results] == [program.pk]


def test_the_liability_counts_members_and_outstanding_points_with_their_value_as_money(admin_client):
    program = program_make(settings={"point_value": Decimal("0.25")})
    for points in (100, 30):
        points_adjust(customer=UserFactory(password=None), program_id=program.pk, points=points, reason="x", by=None)

    answer = admin_client.get(detail(program.pk)).json()

    # Money is a string with two places everywhere in the API (LiabilityOutput says so too).
    assert answer["liability"] == {
        "members": 2,
        "outstanding_points": 130,
        "pending_points": 0,
        "outstanding_value": "32.50",
    }


def test_detail_answers_one_program_and_an_unknown_one_is_404(admin_client):
    program = program_make(name="Club")

    found = admin_client.get(detail(program.pk))

    assert found.status_code == 200, found.content
    assert found.json()["name"] == "Club" and found.json()["id"] == program.pk
    assert_error(admin_client.get(detail(999999)), 404, "not_found")


def test_the_detail_of_a_discount_campaign_is_404(admin_client):
    from campaigns.tests.factories import CampaignFactory

    campaign = CampaignFactory()

    assert_error(admin_client.get(detail(campaign.pk)), 404, "not_found")


def _programs_with_members(count: int) -> None:
    shoes = CategoryFactory(name="Shoes")
    segment = StaticSegmentFactory()
    for n in range(count):
        program = program_make(
            name=f"Program {n}",
            audience="SEGMENTS",
            segment_ids=[segment.pk],
            rules=[
                {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": Decimal("1")},
                {"rule_type": "CATEGORY_POINTS", "points_per_rupee": Decimal("2"), "category_ids": [shoes.pk]},
            ],
            tiers=[{"name": "Silver", "threshold": Decimal("0")}, {"name": "Gold", "threshold": Decimal("100")}],
        )
        points_adjust(customer=UserFactory(password=None), program_id=program.pk, points=10, reason="welcome", by=None)


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(PROGRAMS, {"limit": 100})
    assert response.status_code == 200, response.content
    return len(queries)


def test_the_list_takes_as_many_queries_for_ten_programs_as_for_two(admin_client, django_assert_max_num_queries):
    _programs_with_members(2)
    two = _list_queries(admin_client)
    _programs_with_members(8)

    with django_assert_max_num_queries(two):
        response = admin_client.get(PROGRAMS, {"limit": 100})

    assert response.json()["count"] == 10
    assert all(p["liability"]["members"] == 1 for p in response.json()["results"])


# --- Change ------------------------------------------------------------------------------------


def test_patch_replaces_the_rules_and_tiers_and_changes_settings(admin_client):
    created = admin_client.post(PROGRAMS, program_body(), format="json").json()
    body = {
        "rules": [{"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "2"}],
        "tiers": [{"name": "Gold", "threshold": "1000", "multiplier": "2"}],
        "point_value": "0.50",
        "expiry_days": None,
        "name": "Platinum Club",
    }

    response = admin_client.patch(detail(created["id"]), body, format="json")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["name"] == "Platinum Club"
    assert [(r["rule_type"], r["points_per_rupee"]) for r in answer["rules"]] == [("POINTS_PER_RUPEE", "2.0000")]
    assert [(t["name"], t["threshold"], t["multiplier"]) for t in answer["tiers"]] == [("Gold", "1000.00", "2.00")]
    assert (answer["point_value"], answer["expiry_days"], answer["min_redeem_points"]) == ("0.5000", None, 100)
    assert EarningRule.objects.filter(program_id=created["id"]).count() == 1
    # The tier that kept its name kept its id (accounts in it keep their tier).
    gold = next(t for t in created["tiers"] if t["name"] == "Gold")
    assert answer["tiers"][0]["id"] == gold["id"]


def test_the_rules_of_a_program_that_has_earned_can_be_replaced_and_its_ledger_stays(admin_client, integration_client):
    program = program_make()
    integration_client.post(ORDERS, order_for("O-1", {"email": "a@example.com"}), format="json")
    earned = PointsTransaction.objects.get()

    response = admin_client.patch(
        detail(program.pk), {"rules": [{"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "2"}]}, format="json"
    )
    integration_client.post(ORDERS, order_for("O-2", {"email": "a@example.com"}), format="json")

    assert response.status_code == 200, response.content
    kept = PointsTransaction.objects.get(pk=earned.pk)
    assert (kept.points, kept.reference, kept.basis) == (1000, "O-1", Decimal("1000.00"))
    assert PointsTransaction.objects.get(reference="O-2").points == 2000
    assert LoyaltyAccount.objects.get().balance == 3000


@pytest.mark.parametrize(
    "rules",
    [
        [{"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 50}],  # the rule that earned is dropped
        [
            {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 50},  # another type takes its position
            {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "2"},
        ],
    ],
)
def test_a_rule_that_earned_can_be_dropped_or_moved_and_its_ledger_rows_stay(admin_client, integration_client, rules):
    program = program_make()
    integration_client.post(ORDERS, order_for("O-1", {"email": "a@example.com"}), format="json")
    earned = PointsTransaction.objects.get()

    response = admin_client.patch(detail(program.pk), {"rules": rules}, format="json")
    cancelled = integration_client.patch(f"{ORDERS}O-1/", {"status": "CANCELLED"}, format="json")

    assert response.status_code == 200, response.content
    assert [r["rule_type"] for r in response.json()["rules"]] == [r["rule_type"] for r in rules]
    kept = PointsTransaction.objects.get(pk=earned.pk)
    assert (kept.points, kept.reference) == (1000, "O-1")
    assert cancelled.status_code == 200, cancelled.content
    assert LoyaltyAccount.objects.get().balance == 0


def test_the_program_of_a_cancelled_order_can_still_change_its_rules_and_reverse(admin_client, integration_client):
    program = program_make()
    integration_client.post(ORDERS, order_for("O-1", {"email": "a@example.com"}), format="json")
    admin_client.patch(
        detail(program.pk), {"rules": [{"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "2"}]}, format="json"
    )

    response = integration_client.patch(f"{ORDERS}O-1/", {"status": "CANCELLED"}, format="json")

    assert response.status_code == 200, response.content
    assert LoyaltyAccount.objects.get().balance == 0


def test_patch_without_rules_or_tiers_leaves_them(admin_client):
    created = admin_client.post(PROGRAMS, program_body(), format="json").json()

    response = admin_client.patch(detail(created["id"]), {"min_redeem_points": 10}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["min_redeem_points"] == 10
    assert [r["id"] for r in response.json()["rules"]] == [r["id"] for r in created["rules"]]
    assert [t["id"] for t in response.json()["tiers"]] == [t["id"] for t in created["tiers"]]


def test_patch_can_swap_two_tiers_thresholds(admin_client):
    created = admin_client.post(PROGRAMS, program_body(), format="json").json()
    body = {"tiers": [{"name": "Silver", "threshold": "5000"}, {"name": "Gold", "threshold": "0"}]}

    response = admin_client.patch(detail(created["id"]), body, format="json")

    assert response.status_code == 200, response.content
    assert [(t["name"], t["threshold"]) for t in response.json()["tiers"]] == [("Gold", "0.00"), ("Silver", "5000.00")]


def test_patch_status_switches_a_program_off_and_on(admin_client):
    program = program_make()

    off = admin_client.patch(f"{detail(program.pk)}status/", {"status": "INACTIVE"}, format="json")
    on = admin_client.patch(f"{detail(program.pk)}status/", {"status": "ACTIVE"}, format="json")

    assert off.status_code == 200, off.content
    assert off.json()["status"] == "INACTIVE"
    assert on.json()["status"] == "ACTIVE" and on.json()["kind"] == "LOYALTY_PROGRAM"
    assert Campaign.objects.get(pk=program.pk).status == "ACTIVE"


def test_a_switched_off_program_earns_nothing(admin_client, integration_client):
    program = program_make()
    admin_client.patch(f"{detail(program.pk)}status/", {"status": "INACTIVE"}, format="json")

    response = integration_client.post(ORDERS, order_for("O-1", {"email": "a@example.com"}), format="json")

    assert response.status_code == 201, response.content
    assert not LoyaltyAccount.objects.exists()


# --- Delete ------------------------------------------------------------------------------------


def test_delete_erases_a_program_without_members(admin_client):
    program = program_make()

    response = admin_client.delete(detail(program.pk))

    assert response.status_code == 204, response.content
    assert not Campaign.objects.filter(pk=program.pk).exists()
    assert not EarningRule.objects.exists() and not ProgramSettings.objects.exists()


def test_delete_archives_a_program_with_an_account_and_keeps_it_readable(admin_client, integration_client):
    program = program_make()
    integration_client.post(ORDERS, order_for("O-1", {"email": "a@example.com"}), format="json")
    assert LoyaltyAccount.objects.filter(program=program).exists()

    response = admin_client.delete(detail(program.pk))

    assert response.status_code == 204, response.content
    stored = Campaign.objects.get(pk=program.pk)
    assert stored.archived and stored.status == "INACTIVE"
    assert PointsTransaction.objects.filter(account__program=program).count() == 1
    assert admin_client.get(PROGRAMS).json()["count"] == 0
    archived = admin_client.get(PROGRAMS, {"archived": "true"}).json()["results"]
    assert [p["id"] for p in archived] == [program.pk] and archived[0]["archived"] is True
    assert admin_client.get(detail(program.pk)).json()["archived"] is True


def test_an_archived_program_earns_nothing_and_cannot_be_changed_or_switched_on(admin_client, integration_client):
    program = program_make()
    integration_client.post(ORDERS, order_for("O-1", {"email": "a@example.com"}), format="json")
    admin_client.delete(detail(program.pk))

    integration_client.post(ORDERS, order_for("O-2", {"email": "a@example.com"}), format="json")

    assert PointsTransaction.objects.count() == 1
    assert_error(admin_client.patch(detail(program.pk), {"name": "Again"}, format="json"), 409, "campaign_archived")
    assert_error(
        admin_client.patch(f"{detail(program.pk)}status/", {"status": "ACTIVE"}, format="json"),
        409,
        "campaign_archived",
    )


# --- Among the campaigns -------------------------------------------------------------------------


def test_a_program_is_listed_among_the_campaigns_as_a_loyalty_program(admin_client):
    program = program_make(name="Club")

    everything = admin_client.get(CAMPAIGNS).json()["results"]
    programs = admin_client.get(CAMPAIGNS, {"kind": "LOYALTY_PROGRAM"}).json()["results"]
    seed = admin_client.get("/campaigns/get", {"page": 1, "limit": 10})

    assert [(c["id"], c["kind"]) for c in everything] == [(program.pk, "LOYALTY_PROGRAM")]
    assert [c["id"] for c in programs] == [program.pk]
    assert seed.status_code == 200 and [c["id"] for c in seed.json()["results"]] == [program.pk]


def test_the_campaigns_route_refuses_to_change_a_program(admin_client):
    program = program_make()

    response = admin_client.patch(f"{CAMPAIGNS}{program.pk}/", {"priority": 5}, format="json")

    assert_error(response, 404, "not_a_discount_campaign")
    assert Campaign.objects.get(pk=program.pk).priority == 0


# --- Who may manage programs ---------------------------------------------------------------------


def test_customers_may_not_manage_programs(customer_client):
    program = program_make()

    assert_error(customer_client.get(PROGRAMS), 403, "permission_denied")
    assert_error(customer_client.get(detail(program.pk)), 403, "permission_denied")
    assert_error(customer_client.post(PROGRAMS, program_body(), format="json"), 403, "permission_denied")
    assert_error(customer_client.post(SEED_CREATE, program_body(), format="json"), 403, "permission_denied")
    assert_error(customer_client.patch(detail(program.pk), {"name": "Mine"}, format="json"), 403, "permission_denied")
    assert_error(
        customer_client.patch(f"{detail(program.pk)}status/", {"status": "INACTIVE"}, format="json"),
        403,
        "permission_denied",
    )
    assert_error(customer_client.delete(detail(program.pk)), 403, "permission_denied")
    assert Campaign.objects.get(pk=program.pk).name == "Rewards"


def test_strangers_and_the_integration_key_may_not_manage_programs(api_client, integration_client):
    assert_error(api_client.get(PROGRAMS), 401, "not_authenticated")
    response = integration_client.post(PROGRAMS, program_body(), format="json")
    assert response.status_code in (401, 403), response.content
    assert not Campaign.objects.exists()


# --- Liabilities worth billions -------------------------------------------------------------------


def test_programs_list_and_detail_answer_when_outstanding_points_are_worth_over_ten_billion(
    admin_client, customer, dear
):
    give_billion(admin_client, customer, dear)
    client = no_raise(admin_client)

    listed = client.get(PROGRAMS)
    one = client.get(f"{PROGRAMS}{dear.pk}/")

    assert listed.status_code == 200, listed.content[:300]
    row = next(p for p in listed.json()["results"] if p["id"] == dear.pk)
    assert row["liability"] == {
        "members": 1,
        "outstanding_points": BILLION,
        "pending_points": 0,
        "outstanding_value": "100000000000.00",
    }
    assert one.status_code == 200, one.content[:300]
    assert one.json()["liability"]["outstanding_value"] == "100000000000.00"


def test_programs_list_answers_when_outstanding_points_are_worth_a_trillion(admin_client, customer, dear):
    give_ten_billion(admin_client, customer, dear)

    listed = no_raise(admin_client).get(PROGRAMS)

    assert listed.status_code == 200, listed.content[:300]
    row = next(p for p in listed.json()["results"] if p["id"] == dear.pk)
    assert row["liability"]["outstanding_value"] == "1000000000000.00"
