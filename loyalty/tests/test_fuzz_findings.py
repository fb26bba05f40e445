"""Regressions found by fuzzing the loyalty endpoints (schemathesis and by hand): inputs that
answered 500 instead of an error in the one shape, or a body outside the documented schema.

The non-ASCII digit and the ten-billion-rupee answers were fixed in dd90164; a balance or a
liability worth a trillion rupees answered 500 past that fix (14 digits are not enough for a sum)."""

from decimal import Decimal

import pytest

from lms.testing import assert_error
from loyalty.models import LoyaltyAccount, PointsTransaction
from loyalty.tests.factories import program_make

pytestmark = pytest.mark.django_db

PROGRAMS = "/api/v1/loyalty/programs/"
ME = "/api/v1/loyalty/me/"
REDEEM = "/api/v1/loyalty/redeem"
BILLION = 1_000_000_000


def no_raise(client):
    """The client answers a server error as a 500 response instead of raising it in the test."""
    client.raise_request_exception = False
    return client


@pytest.fixture
def dear():
    """A live program whose point is worth the most a program allows (100 rupees)."""
    return program_make(name="Dear points", settings={"point_value": Decimal("100")})


def give_billion(admin_client, customer, program) -> None:
    response = admin_client.post(
        f"/api/v1/loyalty/accounts/{customer.pk}/adjust",
        {"program_id": program.pk, "points": BILLION, "reason": "goodwill"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["balance"] == BILLION


# --- {customer} in the path: str.isdigit() is not "0-9" ----------------------------------------


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


# --- Money fields narrower than the values they carry (MONEY is 12 digits; a value reaches 1e11) ---


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


# --- Past the fix to 14 digits: a balance, and a program's liability, have no cap -------------


def give_ten_billion(admin_client, customer, program) -> None:
    for i in range(10):
        response = admin_client.post(
            f"/api/v1/loyalty/accounts/{customer.pk}/adjust",
            {"program_id": program.pk, "points": BILLION, "reason": "goodwill", "idempotency_key": f"g-{i}"},
            format="json",
        )
        assert response.status_code == 201, response.content
    assert LoyaltyAccount.objects.get(customer=customer, program=program).balance == 10 * BILLION


def test_programs_list_answers_when_outstanding_points_are_worth_a_trillion(admin_client, customer, dear):
    give_ten_billion(admin_client, customer, dear)

    listed = no_raise(admin_client).get(PROGRAMS)

    assert listed.status_code == 200, listed.content[:300]
    row = next(p for p in listed.json()["results"] if p["id"] == dear.pk)
    assert row["liability"]["outstanding_value"] == "1000000000000.00"


def test_me_answers_when_the_balance_is_worth_a_trillion(admin_client, customer, customer_client, dear):
    give_ten_billion(admin_client, customer, dear)

    response = no_raise(customer_client).get(ME)

    assert response.status_code == 200, response.content[:300]
    mine = next(p for p in response.json()["programs"] if p["program_id"] == dear.pk)
    assert mine["balance_value"] == "1000000000000.00"
