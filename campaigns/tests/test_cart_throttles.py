"""The cart routes' throttles: a customer's own rate, and the budget of unknown-code answers."""

from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from campaigns.models import OrderRedemption
from campaigns.tests.factories import CampaignFactory, coded_cart
from conftest import client_with_key
from lms.testing import assert_error, run_concurrently

EVALUATE = "/api/v1/cart/evaluate"
REDEEM = "/api/v1/redemptions"

pytestmark = pytest.mark.django_db


@pytest.fixture
def diwali():
    return CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20", rules=[{"value": Decimal("20")}])


def evaluate(client, *codes: str, ip: str = "10.0.0.1", **extra):
    return client.post(EVALUATE, coded_cart(*codes, **extra), format="json", REMOTE_ADDR=ip)


def test_a_customer_guessing_codes_gets_429_past_the_budget_before_evaluating(customer_client, rates):
    rates(cart_unknown_code_customer="5/h", cart_unknown_code_ip="100/h")

    first = evaluate(customer_client, "GUESS1", "GUESS2", "GUESS3")
    second = evaluate(customer_client, "GUESS4", "GUESS5")
    refused = evaluate(customer_client, "GUESS6")

    assert [r["reason"] for r in first.json()["rejected"]] == ["code_unknown"] * 3
    assert second.status_code == 200
    body = assert_error(refused, 429, "throttled")
    assert int(refused["Retry-After"]) > 0
    assert body["details"]["retry_after"] == int(refused["Retry-After"])
    assert evaluate(customer_client).status_code == 200  # a cart without codes guesses nothing


def test_a_call_that_would_pass_the_budget_answers_429_not_its_unknown_codes(customer_client, rates):
    rates(cart_unknown_code_customer="3/h", cart_unknown_code_ip="100/h")
    evaluate(customer_client, "GUESS1", "GUESS2")

    over = evaluate(customer_client, "GUESS3", "GUESS4")
    fits = evaluate(customer_client, "GUESS5")

    assert_error(over, 429, "throttled")
    assert [r["reason"] for r in fits.json()["rejected"]] == ["code_unknown"]  # the refused call took nothing


def test_a_known_code_does_not_spend_the_budget(customer_client, rates, diwali):
    # A call reserves a slot per code it names (3 here) and gives back the known code's.
    rates(cart_unknown_code_customer="3/h", cart_unknown_code_ip="3/h")

    known = [evaluate(customer_client, "DIWALI20") for _ in range(5)]
    guesses = evaluate(customer_client, "DIWALI20", "GUESS1", "GUESS2")
    last = evaluate(customer_client, "GUESS3")

    assert all(r.status_code == 200 and r.json()["total_discount"] == "100.00" for r in known)
    assert [r["reason"] for r in guesses.json()["rejected"]] == ["code_unknown"] * 2
    assert [r["reason"] for r in last.json()["rejected"]] == ["code_unknown"]
    assert_error(evaluate(customer_client, "DIWALI20"), 429, "throttled")  # the budget is spent


def test_whether_a_call_is_refused_depends_on_how_many_codes_it_names_not_on_their_existing(
    customer_client, rates, diwali
):
    rates(cart_unknown_code_customer="3/h", cart_unknown_code_ip="100/h")
    evaluate(customer_client, "GUESS1", "GUESS2")

    with_known = evaluate(customer_client, "DIWALI20", "GUESS3")  # 2 slots asked, 1 left: refused
    without = evaluate(customer_client, "GUESS4", "GUESS5")

    assert_error(with_known, 429, "throttled")
    assert_error(without, 429, "throttled")


def test_another_customer_keeps_their_budget(customer_client, client_for, rates):
    rates(cart_unknown_code_customer="2/h", cart_unknown_code_ip="100/h")
    evaluate(customer_client, "GUESS1", "GUESS2")
    other = client_for(UserFactory(email="ravi@example.com"))

    assert_error(evaluate(customer_client, "GUESS3"), 429, "throttled")
    assert evaluate(other, "GUESS3").status_code == 200


def test_another_address_keeps_its_budget(customer_client, client_for, rates):
    rates(cart_unknown_code_customer="100/h", cart_unknown_code_ip="2/h")
    evaluate(customer_client, "GUESS1", "GUESS2", ip="10.0.0.1")
    other = client_for(UserFactory(email="ravi@example.com"))

    assert_error(evaluate(other, "GUESS3", ip="10.0.0.1"), 429, "throttled")  # the address is spent
    assert evaluate(customer_client, "GUESS3", ip="10.0.0.2").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_are_never_answered_past_the_budget(customer, client_for, rates):
    rates(cart_unknown_code_customer="5/h", cart_unknown_code_ip="100/h")
    clients = [client_for(customer) for _ in range(12)]

    responses = run_concurrently(12, lambda i: evaluate(clients[i], f"GUESS{i}"))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 5 + [429] * 7


def test_a_customer_token_has_its_own_rate_and_the_integration_keeps_its_own(
    customer_client, integration_client, admin_client, rates
):
    rates(cart_customer="3/m", integration="100/m")

    mine = [evaluate(customer_client).status_code for _ in range(4)]

    assert mine == [200, 200, 200, 429]
    assert evaluate(integration_client).status_code == 200
    assert evaluate(admin_client).status_code == 200


def test_an_integration_key_has_a_larger_budget_of_its_own_and_per_named_customer(integration_key, rates):
    rates(cart_unknown_code_key="3/h", cart_unknown_code_customer="2/h", cart_unknown_code_ip="1/h")
    store = client_with_key(integration_key)

    asha = evaluate(store, "GUESS1", "GUESS2", customer={"email": "asha@example.com"})
    asha_again = evaluate(store, "GUESS3", customer={"email": "asha@example.com"})
    ravi = evaluate(store, "GUESS3", customer={"email": "ravi@example.com"})  # one address: not counted
    spent = evaluate(store, "GUESS4", customer={"email": "uma@example.com"})

    assert asha.status_code == 200
    assert_error(asha_again, 429, "throttled")
    assert ravi.status_code == 200
    assert_error(spent, 429, "throttled")  # the key's budget (3) is spent


def test_an_admin_has_no_unknown_code_budget(admin_client, rates):
    rates(cart_unknown_code_customer="1/h", cart_unknown_code_ip="1/h")

    responses = [evaluate(admin_client, "GUESS1", "GUESS2") for _ in range(3)]

    assert all(response.status_code == 200 for response in responses)


def test_a_redemption_past_the_budget_is_429_and_writes_nothing(integration_client, rates):
    rates(cart_unknown_code_key="1/h")
    CampaignFactory()
    body = {"order_id": "O-1", "customer": {"email": "asha@example.com"}, **coded_cart("GUESS1", "GUESS2")}

    response = integration_client.post(REDEEM, body, format="json")

    assert_error(response, 429, "throttled")
    assert not OrderRedemption.objects.exists()
