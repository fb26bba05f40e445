"""A customer's points over HTTP: /loyalty/me, transactions, redeem, adjustments, points as a
checkout discount (cart/evaluate and redemptions), and the loyalty segment criteria."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from campaigns.models import OrderRedemption
from campaigns.tests.factories import CampaignFactory
from lms.testing import assert_error
from loyalty.models import LoyaltyAccount, PointsTransaction
from loyalty.services.ledger import points_adjust, points_redeem
from loyalty.services.upkeep import balances_check
from loyalty.tests.factories import BILLION, give_billion, give_ten_billion, no_raise, order_for, program_make
from segments.models import CustomerMembership, Segment

pytestmark = pytest.mark.django_db

ME = "/api/v1/loyalty/me/"
MY_TRANSACTIONS = "/api/v1/loyalty/me/transactions/"
REDEEM = "/api/v1/loyalty/redeem"
EVALUATE = "/api/v1/cart/evaluate"
REDEMPTIONS = "/api/v1/redemptions"
ORDERS = "/api/v1/commerce/orders/"
SEGMENTS = "/api/v1/segments/"
ASHA = {"email": "asha@example.com"}


def adjust_url(customer, by: str = "") -> str:
    return f"/api/v1/loyalty/accounts/{customer}/adjust" + (f"?by={by}" if by else "")


def transactions_url(customer, by: str = "") -> str:
    return f"/api/v1/loyalty/accounts/{customer}/transactions/" + (f"?by={by}" if by else "")


def give(customer, program, points: int, reason: str = "welcome"):
    return points_adjust(customer=customer, program_id=program.pk, points=points, reason=reason, by=None)


def account(customer, program) -> LoyaltyAccount:
    return LoyaltyAccount.objects.get(customer=customer, program=program)


def ago(days: int) -> str:
    return (timezone.now() - dt.timedelta(days=days)).isoformat()


@pytest.fixture
def club():
    """A live program: 1 point per rupee, a point is worth 0.25, at least 10 points at once."""
    return program_make(
        name="Club",
        settings={"point_value": Decimal("0.25"), "min_redeem_points": 10, "expiry_days": 365},
        tiers=[
            {"name": "Silver", "threshold": Decimal("0")},
            {"name": "Gold", "threshold": Decimal("1000"), "multiplier": Decimal("2")},
        ],
    )


# --- GET /loyalty/me -----------------------------------------------------------------------------


def test_me_shows_balance_value_tier_progress_and_points_expiring_soon(
    customer_client, customer, integration_client, club
):
    integration_client.post(ORDERS, order_for("OLD", ASHA, [("A", 1, "100.00")], placed_at=ago(340)), format="json")
    integration_client.post(ORDERS, order_for("NEW", ASHA, [("A", 1, "300.00")], placed_at=ago(10)), format="json")

    response = customer_client.get(ME)

    assert response.status_code == 200, response.content
    [mine] = response.json()["programs"]
    assert (mine["program_id"], mine["program_name"], mine["member"]) == (club.pk, "Club", True)
    assert (mine["balance"], mine["lifetime_earned"]) == (400, 400)
    assert Decimal(str(mine["balance_value"])) == Decimal("100.00")
    assert mine["tier"]["name"] == "Silver"
    assert mine["next_tier"]["name"] == "Gold"
    assert Decimal(mine["next_tier"]["missing"]) == Decimal("600")
    assert Decimal(mine["next_tier"]["progress_percent"]) == Decimal("40.0")
    assert mine["expiring_30_days"] == 100  # the old order's lot expires in 25 days
    assert (mine["min_redeem_points"], mine["tier_basis"]) == (10, "LIFETIME_POINTS")


def test_me_answers_money_and_rates_as_strings_like_the_rest_of_the_api(customer_client, customer, club):
    give(customer, club, 401)

    [mine] = customer_client.get(ME).json()["programs"]

    # MembershipOutput declares these as decimals: "100.25", not the float 100.25.
    assert (mine["balance_value"], mine["point_value"]) == ("100.25", "0.2500")
    assert (mine["tier_measure"], mine["next_tier"]["threshold"], mine["next_tier"]["missing"]) == (
        "0.00", "1000.00", "1000.00",
    )  # fmt: skip


def test_me_lists_live_programs_the_customer_is_not_in_as_not_a_member(customer_client, club):
    program_make(name="Switched off", status="INACTIVE")
    ended = program_make(name="Ended", ends_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))

    programs = customer_client.get(ME).json()["programs"]

    assert [(p["program_id"], p["member"], p["balance"]) for p in programs] == [(club.pk, False, 0)]
    assert ended.pk not in [p["program_id"] for p in programs]
    # Silver starts at 0 points: the first tier still to reach is Gold.
    assert programs[0]["tier"] is None and programs[0]["next_tier"]["name"] == "Gold"


def test_me_keeps_a_switched_off_program_the_customer_holds_points_in(customer_client, customer, admin_client, club):
    give(customer, club, 50)
    admin_client.patch(f"/api/v1/loyalty/programs/{club.pk}/status/", {"status": "INACTIVE"}, format="json")

    programs = customer_client.get(ME).json()["programs"]

    assert [(p["program_id"], p["member"], p["balance"]) for p in programs] == [(club.pk, True, 50)]


def test_me_at_the_top_tier_has_no_next_tier(customer_client, customer, integration_client, club):
    integration_client.post(ORDERS, order_for("BIG", ASHA, [("A", 1, "1500.00")], placed_at=ago(1)), format="json")

    [mine] = customer_client.get(ME).json()["programs"]

    assert mine["tier"]["name"] == "Gold" and mine["next_tier"] is None


def test_me_needs_a_sign_in(api_client):
    assert_error(api_client.get(ME), 401, "not_authenticated")


# --- GET /loyalty/me/transactions -----------------------------------------------------------------


def test_my_transactions_are_mine_only_newest_first_and_paginated(customer_client, customer, club):
    other = program_make(name="Other")
    for points in (10, 20, 30):
        give(customer, club, points)
    give(customer, other, 40)
    give(UserFactory(password=None), club, 99)

    first = customer_client.get(MY_TRANSACTIONS, {"page": 1, "limit": 3}).json()
    second = customer_client.get(MY_TRANSACTIONS, {"page": 2, "limit": 3}).json()

    assert (first["count"], first["pages"]) == (4, 2)
    assert [row["points"] for row in first["results"] + second["results"]] == [40, 30, 20, 10]
    assert first["results"][0]["program_id"] == other.pk
    assert {row["kind"] for row in first["results"]} == {"ADJUST"}


def test_my_transactions_filter_by_program_and_kind(customer_client, customer, club):
    other = program_make(name="Other")
    give(customer, club, 100)
    give(customer, other, 40)
    points_redeem(customer_id=customer.pk, program_id=club.pk, points=30, order_id="O-1")

    in_club = customer_client.get(MY_TRANSACTIONS, {"program_id": club.pk}).json()["results"]
    redeemed = customer_client.get(MY_TRANSACTIONS, {"kind": "REDEEM"}).json()["results"]

    assert [row["points"] for row in in_club] == [-30, 100]
    assert [(row["points"], row["reference"], row["value"]) for row in redeemed] == [(-30, "O-1", "7.50")]


def test_my_transactions_take_as_many_queries_for_many_rows_as_for_few(customer_client, customer, club):
    give(customer, club, 1)
    with CaptureQueriesContext(connection) as few:
        customer_client.get(MY_TRANSACTIONS, {"limit": 100})
    for _ in range(20):
        give(customer, program_make(name="More"), 5)

    with CaptureQueriesContext(connection) as many:
        response = customer_client.get(MY_TRANSACTIONS, {"limit": 100})

    assert response.json()["count"] == 21
    assert len(many) == len(few)


# --- POST /loyalty/redeem ---------------------------------------------------------------------------


def redeem_body(program, points: int, order_id: str = "ORD-1", **extra) -> dict:
    return {"program_id": program.pk, "points": points, "order_id": order_id, **extra}


def test_a_customer_redeems_points_for_their_value_and_a_retry_gets_the_same_answer(customer_client, customer, club):
    give(customer, club, 500)

    first = customer_client.post(REDEEM, redeem_body(club, 100), format="json")
    again = customer_client.post(REDEEM, redeem_body(club, 100), format="json")

    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["program_id"], body["order_id"], body["points"], body["value"], body["balance"]) == (
        club.pk, "ORD-1", 100, "25.00", 400,
    )  # fmt: skip
    assert again.status_code == 200 and again.json() == body
    assert account(customer, club).balance == 400
    redeemed = PointsTransaction.objects.get(kind="REDEEM")
    assert (redeemed.points, redeemed.reference, redeemed.value) == (-100, "ORD-1", Decimal("25.00"))


def test_the_same_order_with_other_points_is_an_idempotency_conflict(customer_client, customer, club):
    give(customer, club, 500)
    customer_client.post(REDEEM, redeem_body(club, 100), format="json")

    response = customer_client.post(REDEEM, redeem_body(club, 150), format="json")

    assert_error(response, 409, "idempotency_conflict")
    assert account(customer, club).balance == 400


def test_redeeming_more_than_the_balance_is_409_and_fewer_than_the_minimum_400(customer_client, customer, club):
    give(customer, club, 50)

    too_many = customer_client.post(REDEEM, redeem_body(club, 51), format="json")
    too_few = customer_client.post(REDEEM, redeem_body(club, 9, "ORD-2"), format="json")

    body = assert_error(too_many, 409, "insufficient_points")
    assert body["details"]["balance"] == 50
    assert assert_error(too_few, 400, "below_min_points")["details"]["path"] == "points"
    assert account(customer, club).balance == 50
    assert not PointsTransaction.objects.filter(kind="REDEEM").exists()


def test_a_customer_without_an_account_has_no_points_to_redeem(customer_client, club):
    assert_error(customer_client.post(REDEEM, redeem_body(club, 10), format="json"), 409, "insufficient_points")
    assert not LoyaltyAccount.objects.exists()


def test_redeeming_takes_the_oldest_lot_first(customer_client, customer, club):
    oldest, newer = give(customer, club, 100), give(customer, club, 200)

    customer_client.post(REDEEM, redeem_body(club, 150), format="json")

    oldest.refresh_from_db()
    newer.refresh_from_db()
    assert (oldest.remaining, newer.remaining) == (0, 150)
    assert balances_check() == []


def test_a_switched_off_program_takes_no_redemptions(customer_client, customer, admin_client, club):
    give(customer, club, 100)
    admin_client.patch(f"/api/v1/loyalty/programs/{club.pk}/status/", {"status": "INACTIVE"}, format="json")

    assert_error(customer_client.post(REDEEM, redeem_body(club, 10), format="json"), 409, "program_inactive")
    assert account(customer, club).balance == 100


def test_the_integration_redeems_for_a_named_customer(integration_client, customer, club):
    give(customer, club, 100)

    by_email = integration_client.post(
        REDEEM, redeem_body(club, 40, customer={"email": "ASHA@example.com"}), format="json"
    )
    by_id = integration_client.post(REDEEM, redeem_body(club, 10, "ORD-2", customer={"id": customer.pk}), format="json")
    nobody = integration_client.post(REDEEM, redeem_body(club, 10, "ORD-3"), format="json")

    assert by_email.status_code == 201, by_email.content
    assert by_id.status_code == 201 and by_id.json()["balance"] == 50
    assert_error(nobody, 400, "customer_required")
    assert account(customer, club).balance == 50


def test_a_customer_cannot_spend_another_customers_points(customer_client, customer, club):
    other = UserFactory(email="ravi@example.com", password=None)
    give(other, club, 100)

    response = customer_client.post(
        REDEEM, redeem_body(club, 10, customer={"email": "ravi@example.com"}), format="json"
    )

    assert_error(response, 403, "customer_mismatch")
    assert account(other, club).balance == 100


def test_a_customer_may_name_themselves(customer_client, customer, club):
    give(customer, club, 100)

    response = customer_client.post(
        REDEEM, redeem_body(club, 10, customer={"email": "Asha@Example.com"}), format="json"
    )

    assert response.status_code == 201, response.content


def test_redeeming_against_another_customers_order_is_refused(customer_client, integration_client, customer, club):
    give(customer, club, 100)
    dev = {"email": "dev@example.com"}
    assert (
        integration_client.post(ORDERS, order_for("D-1", dev, [("TEE", 1, "10.00")]), format="json").status_code == 201
    )

    response = customer_client.post(REDEEM, redeem_body(club, 40, "D-1"), format="json")

    assert_error(response, 409, "order_of_another_customer")
    assert response.json()["details"]["path"] == "order_id"
    assert account(customer, club).balance == 100
    assert not PointsTransaction.objects.filter(kind="REDEEM").exists()


def test_cancelling_an_order_gives_back_only_its_own_customers_redemption(
    customer_client, integration_client, client_for, customer, club
):
    dev = UserFactory(email="dev@example.com")
    give(customer, club, 100)
    give(dev, club, 100)
    # Asha redeems under an order id before the platform sends it (allowed: not an order yet),
    # then the order turns out to be Dev's, who redeems for it too.
    early = customer_client.post(REDEEM, redeem_body(club, 40, "D-1"), format="json")
    assert early.status_code == 201, early.content
    order = order_for("D-1", {"email": "dev@example.com"}, [("TEE", 1, "10.00")])
    assert integration_client.post(ORDERS, order, format="json").status_code == 201
    own = client_for(dev).post(REDEEM, redeem_body(club, 30, "D-1"), format="json")
    assert own.status_code == 201, own.content

    response = integration_client.patch(f"{ORDERS}D-1/", {"status": "CANCELLED"}, format="json")

    assert response.status_code == 200, response.content
    assert account(customer, club).balance == 60  # Asha's 40 stay spent
    assert account(dev, club).balance == 100  # Dev's 30 came back (the order's own points were taken back)
    returned = PointsTransaction.objects.get(kind="REVERSAL", source="REDEMPTION")
    assert (returned.account.customer_id, returned.points) == (dev.pk, 30)
    assert balances_check() == []


# --- POST /loyalty/accounts/{customer}/adjust --------------------------------------------------------


def test_an_admin_adds_points_as_a_new_lot_with_the_reason(admin_client, admin_user, customer, club):
    response = admin_client.post(
        adjust_url(customer.pk), {"program_id": club.pk, "points": 75, "reason": "Late delivery"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["customer_id"], body["program_id"], body["balance"]) == (customer.pk, club.pk, 75)
    assert (body["transaction"]["kind"], body["transaction"]["points"], body["transaction"]["remaining"]) == (
        "ADJUST",
        75,
        75,
    )
    row = PointsTransaction.objects.get()
    assert (row.reason, row.created_by, row.source) == ("Late delivery", admin_user, "ADMIN")
    assert row.expires_at is not None  # a credit expires by the program's rule


def test_the_integration_adjusts_a_customer_named_by_external_id(integration_client, club):
    customer = UserFactory(email="ravi@example.com", external_id="C-RAVI", password=None)

    response = integration_client.post(
        adjust_url("C-RAVI", by="external_id"), {"program_id": club.pk, "points": 20, "reason": "Survey"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert account(customer, club).balance == 20
    assert PointsTransaction.objects.get().reference == "integration"


def test_an_adjustment_by_email(admin_client, customer, club):
    response = admin_client.post(
        adjust_url("asha@example.com", by="email"), {"program_id": club.pk, "points": 5, "reason": "x"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert account(customer, club).balance == 5


def test_taking_more_points_than_the_balance_is_409(admin_client, customer, club):
    give(customer, club, 30)

    response = admin_client.post(
        adjust_url(customer.pk), {"program_id": club.pk, "points": -31, "reason": "fraud"}, format="json"
    )

    assert_error(response, 409, "insufficient_points")
    assert account(customer, club).balance == 30


def test_taking_points_consumes_the_oldest_lots(admin_client, customer, club):
    oldest, newer = give(customer, club, 30), give(customer, club, 50)

    response = admin_client.post(
        adjust_url(customer.pk), {"program_id": club.pk, "points": -40, "reason": "fraud"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["balance"] == 40
    oldest.refresh_from_db()
    newer.refresh_from_db()
    assert (oldest.remaining, newer.remaining) == (0, 40)
    assert balances_check() == []


def test_an_adjustment_needs_a_reason(admin_client, customer, club):
    missing = admin_client.post(adjust_url(customer.pk), {"program_id": club.pk, "points": 5}, format="json")
    blank = admin_client.post(
        adjust_url(customer.pk), {"program_id": club.pk, "points": 5, "reason": "   "}, format="json"
    )

    assert "reason" in assert_error(missing, 400, "validation_error")["details"]
    body = assert_error(blank, 400, blank.json()["code"])
    assert "reason" in body["details"] or body["details"].get("path") == "reason"
    assert not PointsTransaction.objects.exists()


def test_an_adjustment_with_an_idempotency_key_is_made_once(admin_client, customer, club):
    body = {"program_id": club.pk, "points": 25, "reason": "Goodwill", "idempotency_key": "TICKET-7"}

    first = admin_client.post(adjust_url(customer.pk), body, format="json")
    again = admin_client.post(adjust_url(customer.pk), body, format="json")
    other = admin_client.post(adjust_url(customer.pk), {**body, "points": 30}, format="json")

    assert first.status_code == 201 and again.status_code in (200, 201), again.content
    assert again.json()["transaction"]["id"] == first.json()["transaction"]["id"]
    assert_error(other, 409, "idempotency_conflict")
    assert account(customer, club).balance == 25
    assert PointsTransaction.objects.count() == 1


def test_customers_may_not_adjust_or_read_others_transactions(customer_client, customer, club):
    give(customer, club, 10)

    adjust = customer_client.post(
        adjust_url(customer.pk), {"program_id": club.pk, "points": 500, "reason": "me"}, format="json"
    )
    read = customer_client.get(transactions_url(customer.pk))

    assert_error(adjust, 403, "permission_denied")
    assert_error(read, 403, "permission_denied")
    assert account(customer, club).balance == 10


def test_an_unknown_customer_is_404(admin_client, club):
    response = admin_client.post(adjust_url(999999), {"program_id": club.pk, "points": 5, "reason": "x"}, format="json")

    assert_error(response, 404, "customer_not_found")
    assert_error(admin_client.get(transactions_url("nobody", by="external_id")), 404, "customer_not_found")


def test_admins_and_the_integration_read_a_customers_transactions(admin_client, integration_client, customer, club):
    customer.external_id = "C-ASHA"
    customer.save(update_fields=["external_id"])
    give(customer, club, 10)
    give(customer, club, 20)
    give(UserFactory(password=None), club, 99)

    by_admin = admin_client.get(transactions_url(customer.pk))
    by_integration = integration_client.get(transactions_url("C-ASHA"), {"by": "external_id", "kind": "ADJUST"})

    assert by_admin.status_code == 200, by_admin.content
    assert by_integration.status_code == 200, by_integration.content
    by_admin, by_integration = by_admin.json(), by_integration.json()

    assert [row["points"] for row in by_admin["results"]] == [20, 10]
    assert [row["points"] for row in by_integration["results"]] == [20, 10]


# --- use_points in POST /cart/evaluate ----------------------------------------------------------


def cart(**extra) -> dict:
    return {"lines": [{"sku": "TEE", "quantity": 2, "unit_price": "500.00"}], "shipping": "50.00", **extra}


def test_points_are_a_discount_line_of_the_program_with_a_points_block(integration_client, customer, club):
    give(customer, club, 400)

    response = integration_client.post(
        EVALUATE, cart(customer=ASHA, use_points={"program_id": club.pk, "points": 200}), format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    [line] = body["discounts"]
    assert (line["campaign_id"], line["amount"]) == (club.pk, "50.00")  # 200 x 0.25
    assert body["points"] == {
        "program_id": club.pk,
        "points": 200,
        "value": "50.00",
        "balance": 400,
        "balance_after": 200,
    }
    assert (body["total_discount"], body["total"]) == ("50.00", "1000.00")
    assert account(customer, club).balance == 400  # evaluation spends nothing


def test_a_customers_own_cart_uses_their_points(customer_client, customer, club):
    give(customer, club, 40)

    body = customer_client.post(EVALUATE, cart(use_points={"program_id": club.pk, "points": 40}), format="json").json()

    assert body["points"]["points"] == 40 and body["total"] == "1040.00"


def test_points_pay_at_most_what_the_items_cost_after_other_discounts(integration_client, customer):
    program = program_make(settings={"point_value": Decimal("1.00")})
    give(customer, program, 5000)
    CampaignFactory(rules=[{"value": Decimal("20")}])  # 20% off the items

    body = integration_client.post(
        EVALUATE, cart(customer=ASHA, use_points={"program_id": program.pk, "points": 5000}), format="json"
    ).json()

    assert body["points"]["points"] == 800 and body["points"]["value"] == "800.00"
    assert body["total_discount"] == "1000.00"
    assert body["total"] == "50.00"  # shipping is not paid with points


def test_points_the_customer_does_not_have_or_too_few_are_rejected(integration_client, customer, club):
    give(customer, club, 100)

    too_many = integration_client.post(
        EVALUATE, cart(customer=ASHA, use_points={"program_id": club.pk, "points": 101}), format="json"
    ).json()
    too_few = integration_client.post(
        EVALUATE, cart(customer=ASHA, use_points={"program_id": club.pk, "points": 9}), format="json"
    ).json()

    assert [(r["reason"], r["campaign_id"]) for r in too_many["rejected"]] == [("insufficient_points", club.pk)]
    assert [r["reason"] for r in too_few["rejected"]] == ["below_min_points"]
    assert too_many["points"] is None and too_many["total"] == "1050.00"
    assert too_few["discounts"] == []


def test_points_of_a_switched_off_program_are_unavailable_at_checkout(integration_client, admin_client, customer, club):
    give(customer, club, 100)
    admin_client.patch(f"/api/v1/loyalty/programs/{club.pk}/status/", {"status": "INACTIVE"}, format="json")

    body = integration_client.post(
        EVALUATE, cart(customer=ASHA, use_points={"program_id": club.pk, "points": 50}), format="json"
    ).json()
    refused = integration_client.post(REDEMPTIONS, checkout(club, 50), format="json")

    assert [r["reason"] for r in body["rejected"]] == ["points_unavailable"] and body["points"] is None
    assert_error(refused, 409, "points_unavailable")
    assert account(customer, club).balance == 100


def test_a_customer_not_mirrored_yet_has_no_points(integration_client, club):
    body = integration_client.post(
        EVALUATE,
        cart(customer={"email": "new@example.com"}, use_points={"program_id": club.pk, "points": 10}),
        format="json",
    ).json()

    assert [r["reason"] for r in body["rejected"]] == ["insufficient_points"]


def test_a_guest_cart_cannot_use_points(integration_client, club):
    response = integration_client.post(EVALUATE, cart(use_points={"program_id": club.pk, "points": 10}), format="json")

    assert_error(response, 400, "customer_required")


# --- use_points in POST /redemptions -------------------------------------------------------------


def checkout(program, points: int, order_id: str = "WEB-1", **extra) -> dict:
    return {
        "order_id": order_id,
        "customer": ASHA,
        **cart(use_points={"program_id": program.pk, "points": points}),
        **extra,
    }


def test_a_redemption_spends_the_points_with_the_order_id(integration_client, customer, club):
    give(customer, club, 400)

    response = integration_client.post(REDEMPTIONS, checkout(club, 200), format="json")
    again = integration_client.post(REDEMPTIONS, checkout(club, 200), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["points"]["points"] == 200 and response.json()["total"] == "1000.00"
    assert again.status_code == 200 and again.json() == response.json()
    redeemed = PointsTransaction.objects.get(kind="REDEEM")
    assert (redeemed.points, redeemed.reference, redeemed.value) == (-200, "WEB-1", Decimal("50.00"))
    assert account(customer, club).balance == 200


def test_a_redemption_whose_points_were_spent_meanwhile_is_refused_whole(integration_client, customer, club):
    give(customer, club, 300)
    evaluated = integration_client.post(
        EVALUATE, cart(customer=ASHA, use_points={"program_id": club.pk, "points": 200}), format="json"
    )
    assert evaluated.json()["points"]["points"] == 200
    points_redeem(customer_id=customer.pk, program_id=club.pk, points=150, order_id="APP-9")

    response = integration_client.post(REDEMPTIONS, checkout(club, 200), format="json")

    assert_error(response, 409, "insufficient_points")
    assert not OrderRedemption.objects.exists()
    assert account(customer, club).balance == 150


def test_voiding_a_redemption_gives_the_points_back_as_a_new_lot(integration_client, customer, club):
    give(customer, club, 400)
    integration_client.post(REDEMPTIONS, checkout(club, 200), format="json")

    voided = integration_client.post(f"{REDEMPTIONS}/WEB-1/void", {}, format="json")
    again = integration_client.post(f"{REDEMPTIONS}/WEB-1/void", {}, format="json")

    assert voided.status_code == 200, voided.content
    assert again.status_code == 200, again.content
    returned = PointsTransaction.objects.get(kind="REVERSAL")
    assert (returned.points, returned.remaining, returned.reference) == (200, 200, "WEB-1")
    assert returned.reverses.kind == "REDEEM"
    assert account(customer, club).balance == 400
    assert balances_check() == []


def test_voiding_a_checkout_gives_back_only_the_checkouts_customers_points(
    integration_client, client_for, customer, club
):
    dev = UserFactory(email="dev@example.com")
    give(customer, club, 400)
    give(dev, club, 100)
    assert integration_client.post(REDEMPTIONS, checkout(club, 200), format="json").status_code == 201
    other = client_for(dev).post(REDEEM, redeem_body(club, 50, "WEB-1"), format="json")  # the same reference
    assert other.status_code == 201, other.content

    voided = integration_client.post(f"{REDEMPTIONS}/WEB-1/void", {}, format="json")

    assert voided.status_code == 200, voided.content
    assert account(customer, club).balance == 400
    assert account(dev, club).balance == 50
    assert balances_check() == []


def test_cancelling_the_order_gives_the_points_back_once(integration_client, customer, club):
    give(customer, club, 400)
    integration_client.post(REDEMPTIONS, checkout(club, 200), format="json")
    order = order_for("WEB-1", ASHA, [("TEE", 2, "500.00")], discount_total="50.00", shipping="50.00", placed_at=ago(0))
    assert integration_client.post(ORDERS, order, format="json").status_code == 201

    response = integration_client.patch(f"{ORDERS}WEB-1/", {"status": "CANCELLED"}, format="json")
    integration_client.post(f"{REDEMPTIONS}/WEB-1/void", {}, format="json")

    assert response.status_code == 200, response.content
    assert [t.points for t in PointsTransaction.objects.filter(kind="REVERSAL", source="REDEMPTION")] == [200]
    assert OrderRedemption.objects.get(order_id="WEB-1").status == "VOIDED"
    # The order earned 950 and its cancel took them back; the 200 spent came back once.
    assert account(customer, club).balance == 400
    assert balances_check() == []


# --- Segment criteria -----------------------------------------------------------------------------


def segment_members(admin_client, criteria, django_capture_on_commit_callbacks) -> set[int]:
    body = {"name": f"Loyal {Segment.objects.count()}", "kind": "USER", "type": "DYNAMIC", "criteria": criteria}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(SEGMENTS, body, format="json")
    assert response.status_code == 201, response.content
    segment = Segment.objects.get(pk=response.json()["id"])
    assert segment.status == "READY", segment.status
    return set(CustomerMembership.objects.filter(segment=segment).values_list("customer_id", flat=True))


def preview_count(admin_client, criteria) -> int:
    response = admin_client.post(f"{SEGMENTS}preview", {"kind": "USER", "criteria": criteria}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["count"]


def one(field: str, op: str, value, **extra) -> dict:
    return {"all": [{"field": field, "op": op, "value": value, **extra}]}


@pytest.fixture
def members(integration_client, club):
    """Gold Asha (1500 earned, 300 spent), Silver Ravi (200 earned), Mira in another program only."""
    asha = UserFactory(email="asha@example.com", password=None)
    ravi = UserFactory(email="ravi@example.com", password=None)
    mira = UserFactory(email="mira@example.com", password=None)
    UserFactory(email="nobody@example.com", password=None)
    integration_client.post(ORDERS, order_for("A-1", ASHA, [("A", 1, "1500.00")], placed_at=ago(3)), format="json")
    integration_client.post(
        ORDERS, order_for("R-1", {"email": "ravi@example.com"}, [("A", 1, "200.00")], placed_at=ago(60)), format="json"
    )
    points_redeem(customer_id=asha.pk, program_id=club.pk, points=300, order_id="SPEND")
    switched_off = program_make(name="Elsewhere", status="INACTIVE")
    give(mira, switched_off, 5000)
    return {"asha": asha, "ravi": ravi, "mira": mira, "elsewhere": switched_off}


def test_loyalty_member_criterion(admin_client, club, members, django_capture_on_commit_callbacks):
    in_club = one("loyalty_member", "any_of", [club.pk])
    not_in_club = one("loyalty_member", "none_of", [club.pk])

    assert segment_members(admin_client, in_club, django_capture_on_commit_callbacks) == {
        members["asha"].pk, members["ravi"].pk,
    }  # fmt: skip
    assert members["mira"].pk in segment_members(admin_client, not_in_club, django_capture_on_commit_callbacks)
    assert preview_count(admin_client, in_club) == 2


def test_points_balance_criterion(admin_client, members, django_capture_on_commit_callbacks):
    rich = one("points_balance", "gte", 1000)

    assert segment_members(admin_client, rich, django_capture_on_commit_callbacks) == {
        members["asha"].pk, members["mira"].pk,
    }  # fmt: skip
    assert preview_count(admin_client, one("points_balance", "between", [100, 300])) == 1  # Ravi's 200


def test_loyalty_tier_criterion_ignores_case(admin_client, members, django_capture_on_commit_callbacks):
    assert segment_members(admin_client, one("loyalty_tier", "eq", "gold"), django_capture_on_commit_callbacks) == {
        members["asha"].pk
    }
    assert preview_count(admin_client, one("loyalty_tier", "in", ["Silver", "GOLD"])) == 2


def test_points_earned_criterion_with_and_without_a_window(admin_client, members, django_capture_on_commit_callbacks):
    lifetime = one("points_earned", "gte", 150)
    recent = one("points_earned", "gte", 150, window_days=30)

    assert segment_members(admin_client, lifetime, django_capture_on_commit_callbacks) == {
        members["asha"].pk, members["ravi"].pk,
    }  # fmt: skip
    assert segment_members(admin_client, recent, django_capture_on_commit_callbacks) == {members["asha"].pk}


# --- Customers named by odd digits, balances worth billions ---------------------------------------


@pytest.mark.parametrize("name", ["²", "①", "{full_width}", "{arabic_indic}"])
def test_customer_transactions_named_by_a_non_ascii_digit_answer_404(admin_client, customer, name):
    # Full-width and Arabic-Indic digits are digits to int(): they must not name customer ids.
    name = name.format(
        full_width="".join(chr(0xFF10 + int(d)) for d in str(customer.pk)),
        arabic_indic="".join(chr(0x0660 + int(d)) for d in str(customer.pk)),
    )
    response = no_raise(admin_client).get(f"/api/v1/loyalty/accounts/{name}/transactions/")

    assert_error(response, 404, "customer_not_found")


def test_adjusting_a_customer_named_by_a_superscript_digit_answers_404_and_writes_nothing(admin_client, customer, dear):
    response = no_raise(admin_client).post(
        "/api/v1/loyalty/accounts/²/adjust", {"program_id": dear.pk, "points": 5, "reason": "x"}, format="json"
    )

    assert_error(response, 404, "customer_not_found")
    assert not PointsTransaction.objects.exists()


def test_me_answers_when_the_balance_is_worth_over_ten_billion(admin_client, customer, customer_client, dear):
    give_billion(admin_client, customer, dear)

    response = no_raise(customer_client).get(ME)

    assert response.status_code == 200, response.content[:300]
    mine = next(p for p in response.json()["programs"] if p["program_id"] == dear.pk)
    assert mine["balance"] == BILLION
    assert mine["balance_value"] == "100000000000.00"


def test_redeeming_a_billion_dear_points_answers_201_with_their_value(admin_client, customer, customer_client, dear):
    give_billion(admin_client, customer, dear)

    response = no_raise(customer_client).post(
        REDEEM, {"program_id": dear.pk, "points": BILLION, "order_id": "ORD-BIG"}, format="json"
    )

    # Before the fix the points were spent (the row is committed) and the answer was a 500.
    assert response.status_code == 201, response.content[:300]
    assert response.json()["value"] == "100000000000.00"
    assert response.json()["balance"] == 0
    assert LoyaltyAccount.objects.get(customer=customer, program=dear).balance == 0
    spent = PointsTransaction.objects.get(account__program=dear, kind="REDEEM")
    assert (spent.points, spent.value) == (-BILLION, Decimal("100000000000.00"))


def test_me_answers_when_the_balance_is_worth_a_trillion(admin_client, customer, customer_client, dear):
    give_ten_billion(admin_client, customer, dear)

    response = no_raise(customer_client).get(ME)

    assert response.status_code == 200, response.content[:300]
    mine = next(p for p in response.json()["programs"] if p["program_id"] == dear.pk)
    assert mine["balance_value"] == "1000000000000.00"
