"""Abuse from outside: an integration key reaching console accounts, coupon guessing, password
guessing through the console or from many IPv6 addresses, tokens of one kind used as another.

The first part pins defects found by attacking the security work (each failed before its
fix); the part at the bottom pins attacks that hold.
"""

import base64
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from accounts.services import email_token_make, session_start
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from campaigns.models import OrderRedemption
from campaigns.tests.factories import CampaignFactory, coded_cart
from lms.testing import assert_error
from loyalty.models import LoyaltyAccount, PointsTransaction
from loyalty.services.ledger import points_adjust
from loyalty.services.upkeep import balances_check
from loyalty.tests.factories import order_for, program_make

pytestmark = pytest.mark.django_db

EVALUATE = "/api/v1/cart/evaluate"
REDEMPTIONS = "/api/v1/redemptions"
LOYALTY_REDEEM = "/api/v1/loyalty/redeem"
ORDERS = "/api/v1/commerce/orders/"
SIGNIN = "/api/v1/auth/signin"
SIGNUP = "/api/v1/auth/signup"
REFRESH = "/api/v1/auth/token/refresh"
SIGNOUT = "/api/v1/auth/signout"
ME = "/api/v1/me"
PASSWORD = "Tidal-Lantern-93"


@pytest.fixture
def club():
    return program_make(name="Club", settings={"point_value": Decimal("0.25"), "min_redeem_points": 1})


@pytest.fixture
def root(db) -> User:
    """A console account made without a password (createsuperuser --noinput)."""
    return User.objects.create_superuser("root@example.com", None)


# =============================================================================================
# Item 1: the integration key reaches console accounts through the `id` reference and the
# loyalty routes (only the email/external_id resolver of commerce checks `is_plain_customer`).
# =============================================================================================


@pytest.mark.parametrize("by", ["id", "email"])
def test_integration_cannot_adjust_the_points_of_a_console_account(integration_client, root, club, by):
    name = root.pk if by == "id" else root.email

    response = integration_client.post(
        f"/api/v1/loyalty/accounts/{name}/adjust?by={by}",
        {"program_id": club.pk, "points": 500, "reason": "bonus"},
        format="json",
    )

    assert_error(response, 409, "customer_protected")
    assert not LoyaltyAccount.objects.filter(customer=root).exists()


def staff_points(user: User, program, points: int) -> None:
    """Points a console account holds from before staff were kept out of loyalty (the services
    refuse to write them now, so the rows are made directly): the API must still guard them."""
    account = LoyaltyAccount.objects.create(customer=user, program=program, balance=points, lifetime_earned=points)
    PointsTransaction.objects.create(
        account=account, kind="EARN", points=points, balance_after=points, remaining=points, source="ADMIN",
        reason="staff perk", idempotency_key="legacy", occurred_at=timezone.now(),
    )  # fmt: skip


def test_integration_cannot_read_the_points_transactions_of_a_console_account(integration_client, root, club):
    staff_points(root, club, 10)

    response = integration_client.get(f"/api/v1/loyalty/accounts/{root.pk}/transactions/")

    assert response.status_code in (403, 404, 409), response.content


def test_cart_evaluate_naming_a_console_account_by_id_is_refused_like_by_email(integration_client, root):
    CampaignFactory()

    by_email = integration_client.post(EVALUATE, coded_cart(customer={"email": root.email}), format="json")
    by_id = integration_client.post(EVALUATE, coded_cart(customer={"id": root.pk}), format="json")

    assert_error(by_email, 409, "customer_protected")
    assert_error(by_id, 409, "customer_protected")


def test_a_redemption_is_never_recorded_against_a_console_account(integration_client, root):
    CampaignFactory()
    body = {"order_id": "O-ROOT", "customer": {"id": root.pk}, **coded_cart()}

    response = integration_client.post(REDEMPTIONS, body, format="json")

    assert_error(response, 409, "customer_protected")
    assert not OrderRedemption.objects.filter(customer=root).exists()


def test_integration_cannot_spend_a_console_accounts_points(integration_client, root, club):
    staff_points(root, club, 100)

    response = integration_client.post(
        LOYALTY_REDEEM,
        {"program_id": club.pk, "points": 100, "order_id": "O-EVIL", "customer": {"id": root.pk}},
        format="json",
    )

    assert_error(response, 409, "customer_protected")
    assert LoyaltyAccount.objects.get(customer=root).balance == 100


# =============================================================================================
# Item 3: the 429 of an over-budget call gives its slots back, so it is a free oracle. With
# one slot spent, a call of 20 codes that are all wrong is 429 and costs nothing; a call in
# which one code exists is answered (19 unknown still fit). 20 guesses a call at the
# customer's 60 calls a minute: 1,200 guesses a minute against a budget of 20 an hour.
# =============================================================================================


def test_past_the_budget_a_guesser_never_learns_a_code(customer_client, rates):
    rates(cart_unknown_code_customer="20/h", cart_unknown_code_ip="1000/h", cart_customer="1000/m")
    CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20", rules=[{"value": Decimal("20")}])
    candidates = [f"GUESS{n:03d}" for n in range(200)]
    candidates[150] = "DIWALI20"  # far past the 20 wrong guesses the budget allows

    customer_client.post(EVALUATE, coded_cart("WRONG"), format="json")  # one slot spent
    found = []
    for start in range(0, len(candidates), 20):
        response = customer_client.post(EVALUATE, coded_cart(*candidates[start : start + 20]), format="json")
        if response.status_code == 200 and response.json()["discounts"]:
            found.append(response.json()["discounts"][0]["code"])

    assert found == []  # before the fix: ['DIWALI20'], found through free 429s


def test_whether_a_call_is_429_does_not_depend_on_the_codes_existing(client_for, rates):
    rates(cart_unknown_code_customer="20/h", cart_unknown_code_ip="1000/h")
    CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20", rules=[{"value": Decimal("20")}])
    guesser_a = client_for(UserFactory(email="a@example.com"))
    guesser_b = client_for(UserFactory(email="b@example.com"))
    for guesser in (guesser_a, guesser_b):  # the same budget state: one slot spent
        guesser.post(EVALUATE, coded_cart("WRONG"), format="json", REMOTE_ADDR="10.9.9.9")

    all_wrong = guesser_a.post(
        EVALUATE, coded_cart(*[f"A{n}" for n in range(20)]), format="json", REMOTE_ADDR="10.0.0.1"
    )
    one_right = guesser_b.post(
        EVALUATE, coded_cart("DIWALI20", *[f"B{n}" for n in range(19)]), format="json", REMOTE_ADDR="10.0.0.2"
    )

    assert all_wrong.status_code == one_right.status_code  # before the fix: 429 vs 200


def test_guest_guesses_through_the_storefront_key_do_not_lock_every_customer_out(integration_client, rates):
    rates(cart_unknown_code_key="3/h", cart_unknown_code_customer="20/h")
    CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20", rules=[{"value": Decimal("20")}])
    UserFactory(email="asha@example.com")
    # A guest cart names no customer: only the key's budget counts it, the storefront's one for all.
    integration_client.post(EVALUATE, coded_cart("GUESS1", "GUESS2", "GUESS3"), format="json")

    asha = integration_client.post(
        EVALUATE, coded_cart("DIWALI20", customer={"email": "asha@example.com"}), format="json"
    )

    assert asha.status_code == 200, asha.content  # before the fix: 429 for every customer
    assert asha.json()["total_discount"] == "100.00"


# =============================================================================================
# Item 7: the console's login is a password oracle for staff/ADMIN accounts without any of
# the API's failure budgets; IPv6 clients get a fresh per-address+IP budget per address.
# =============================================================================================


def test_console_login_guesses_are_counted_like_api_signin_failures(rates):
    rates(signin_failure_email_ip="3/h", signin_failure_email="3/h", signin_failure_ip="3/h")
    UserFactory(email="boss@example.com", role="ADMIN", is_staff=True)
    guesser = Client()
    for n in range(3):
        wrong = guesser.post("/admin/login/", {"username": "boss@example.com", "password": f"Wrong-{n}"})
        assert wrong.status_code == 200  # the form again, "enter the correct email and password"

    fourth = guesser.post("/admin/login/", {"username": "boss@example.com", "password": DEFAULT_PASSWORD})

    # The API would answer 429 to this fourth try; the console lets it in (302 to /admin/).
    assert fourth.status_code != 302 or "_auth_user_id" not in guesser.session


def test_ipv6_addresses_of_one_subnet_share_the_address_and_ip_lockout(api_client, customer, rates):
    rates(signin_failure_email_ip="3/h", signin_failure_email="100/h", signin_failure_ip="100/h")
    for n in range(1, 4):
        wrong = {"email": customer.email, "password": "Wrong-Guess-1"}
        assert_error(api_client.post(SIGNIN, wrong, REMOTE_ADDR=f"2001:db8:1:2::{n}"), 401, "invalid_credentials")

    fourth = api_client.post(
        SIGNIN, {"email": customer.email, "password": "Wrong-Guess-1"}, REMOTE_ADDR="2001:db8:1:2::4"
    )

    assert_error(fourth, 429, "throttled")  # before the fix: 401 (each address of the /64 had its own 10)


# =============================================================================================
# Attacks that hold.
# =============================================================================================


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unsigned(token: str, **header) -> str:
    """The token's payload under another header, with an empty signature (alg none and the like)."""
    _, payload, _ = token.split(".")
    return f"{_b64({'typ': 'JWT', **header})}.{payload}."


def test_orders_by_email_or_external_id_never_reach_a_console_account(integration_client, root):
    by_email_with_a_new_external_id = integration_client.post(
        ORDERS, order_for("O-1", {"external_id": "NEW-1", "email": " ROOT@example.com "}), format="json"
    )
    User.objects.filter(pk=root.pk).update(external_id="ROOT-1")
    by_its_external_id = integration_client.post(ORDERS, order_for("O-2", {"external_id": "ROOT-1"}), format="json")

    assert_error(by_email_with_a_new_external_id, 409, "customer_protected")
    assert_error(by_its_external_id, 409, "customer_protected")
    root.refresh_from_db()
    assert (root.external_id, root.has_usable_password()) == ("ROOT-1", False)
    assert not User.objects.exclude(pk=root.pk).exists()


def test_code_case_whitespace_and_repeats_do_not_stretch_the_budget(customer_client, rates):
    rates(cart_unknown_code_customer="3/h", cart_unknown_code_ip="1000/h")

    first = customer_client.post(EVALUATE, coded_cart("guess1", " GUESS1 ", "Guess1", "guess2"), format="json")
    second = customer_client.post(EVALUATE, coded_cart("guess3"), format="json")
    third = customer_client.post(EVALUATE, coded_cart("GUESS4"), format="json")

    assert [r["reason"] for r in first.json()["rejected"]] == [
        "code_unknown",
        "code_duplicate",
        "code_duplicate",
        "code_unknown",
    ]
    assert second.status_code == 200
    assert_error(third, 429, "throttled")


def test_points_redeemed_under_someone_elses_order_id_stay_with_their_owner(
    customer_client, client_for, integration_client, customer, club
):
    dev = UserFactory(email="dev@example.com")
    points_adjust(customer=customer, program_id=club.pk, points=100, reason="x", by=None)
    points_adjust(customer=dev, program_id=club.pk, points=100, reason="x", by=None)
    early = customer_client.post(
        LOYALTY_REDEEM, {"program_id": club.pk, "points": 40, "order_id": "D-9"}, format="json"
    )
    assert early.status_code == 201, early.content
    ingest = integration_client.post(ORDERS, order_for("D-9", {"email": "dev@example.com"}), format="json")
    assert ingest.status_code == 201, ingest.content
    late = customer_client.post(LOYALTY_REDEEM, {"program_id": club.pk, "points": 5, "order_id": "D-9"}, format="json")

    cancel = integration_client.patch(f"{ORDERS}D-9/", {"status": "CANCELLED"}, format="json")

    assert late.status_code == 409  # another body under the same reference, and now Dev's order
    assert cancel.status_code == 200, cancel.content
    assert LoyaltyAccount.objects.get(customer=customer, program=club).balance == 60
    assert not PointsTransaction.objects.filter(account__customer=customer, kind="REVERSAL").exists()
    assert balances_check() == []


def test_a_refresh_token_from_before_a_reset_neither_rotates_nor_signs_anything(api_client, customer):
    from accounts.services import password_reset, password_reset_token_make

    before = session_start(user=customer)
    password_reset(token=password_reset_token_make(user=customer), password=PASSWORD)

    assert_error(api_client.post(REFRESH, {"refresh": before.refresh}), 401, "token_not_valid")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {before.access}")
    assert_error(api_client.get(ME), 401, "token_not_valid")


def test_signing_out_with_the_rotated_token_ends_its_successor(api_client, customer):
    session = session_start(user=customer)
    successor = api_client.post(REFRESH, {"refresh": session.refresh}).json()

    assert api_client.post(SIGNOUT, {"refresh": session.refresh}).status_code == 204

    assert_error(api_client.post(REFRESH, {"refresh": successor["refresh"]}), 401, "token_not_valid")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {successor['access']}")
    assert_error(api_client.get(ME), 401, "token_not_valid")


def test_a_token_of_a_pruned_family_is_refused(api_client, customer):
    from accounts.models import TokenFamily

    session = session_start(user=customer)
    TokenFamily.objects.filter(user=customer).delete()

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.access}")
    assert_error(api_client.get(ME), 401, "token_not_valid")
    api_client.credentials()
    assert_error(api_client.post(REFRESH, {"refresh": session.refresh}), 401, "token_not_valid")


@pytest.mark.parametrize("header", [{"alg": "none"}, {"alg": "HS512"}, {"alg": "RS256"}])
def test_a_verification_token_under_another_alg_is_refused(api_client, header):
    token = _unsigned(email_token_make(email="asha@example.com").token, **header)
    body = {"first_name": "A", "last_name": "R", "email": "asha@example.com", "password": PASSWORD, "token": token}

    response = api_client.post(SIGNUP, body, format="json")

    assert_error(response, 400, "verification_token_invalid")
    assert not User.objects.exists()


def test_a_verification_token_is_no_refresh_token_nor_sign_out(api_client):
    token = email_token_make(email="asha@example.com").token

    assert_error(api_client.post(REFRESH, {"refresh": token}), 401, "token_not_valid")
    assert_error(api_client.post(SIGNOUT, {"refresh": token}), 401, "token_not_valid")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_error(api_client.get(ME), 401, "token_not_valid")


def test_a_refresh_token_relabelled_as_verification_fails_its_signature(api_client, customer):
    refresh = str(RefreshToken.for_user(customer))
    header, payload, signature = refresh.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(token_type="email_verification", email=customer.email)
    forged = f"{header}.{_b64(claims)}.{signature}"
    body = {"first_name": "A", "last_name": "R", "email": customer.email, "password": PASSWORD, "token": forged}

    assert_error(api_client.post(SIGNUP, body, format="json"), 400, "verification_token_invalid")
    assert_error(APIClient().post(REFRESH, {"refresh": forged}), 401, "token_not_valid")
