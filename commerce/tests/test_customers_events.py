"""Customers upserted by external_id or email, and interaction events (one or a batch)."""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection

from accounts.hooks import login_hooks
from accounts.models import User
from accounts.services import email_token_make, user_signup
from accounts.tests.factories import UserFactory
from commerce.models import EventKind, InteractionEvent
from commerce.tests.factories import ProductFactory
from conftest import client_with_key
from lms.testing import assert_error

CUSTOMERS = "/api/v1/commerce/customers/bulk"
EVENTS = "/api/v1/commerce/events/"

pytestmark = pytest.mark.django_db


def _customers(client, *items) -> dict:
    response = client.post(CUSTOMERS, {"customers": list(items)})
    assert response.status_code == 200, response.content
    return response.json()


def _outcomes(body: dict) -> list[str]:
    return [r["outcome"] for r in body["results"]]


def _codes(body: dict) -> list[str | None]:
    return [r.get("error", {}).get("code") for r in body["results"]]


# --- Customers --------------------------------------------------------------------------------


def test_a_new_customer_is_created_without_a_usable_password(integration_client):
    body = _customers(
        integration_client,
        {
            "external_id": "C-1",
            "email": " Nia@Example.COM ",
            "first_name": "Nia",
            "city": "Pune",
            "signed_up_at": "2024-05-01T09:00:00Z",
            "marketing_email": True,
        },
    )

    assert body["created"] == 1
    assert body["results"] == [{"index": 0, "key": "C-1", "outcome": "created"}]
    user = User.objects.get(external_id="C-1")
    assert (user.email, user.first_name, user.city, user.marketing_email) == ("nia@example.com", "Nia", "Pune", True)
    assert user.platform_signed_up_at == datetime(2024, 5, 1, 9, tzinfo=UTC)
    assert not user.has_usable_password()
    assert (user.role, user.is_staff) == ("USER", False)


def test_a_customer_the_integration_created_can_sign_up_and_claim_the_record(integration_client):
    _customers(integration_client, {"external_id": "C-1", "email": "nia@example.com"})
    token = email_token_make(email="nia@example.com").token

    user_signup(
        email="nia@example.com",
        password="Correct-Horse-42",
        first_name="Nia",
        last_name="Rao",
        verification_token=token,
    )

    user = User.objects.get()
    assert user.external_id == "C-1"
    assert user.check_password("Correct-Horse-42")


def _unclaimed(**fields) -> User:
    """A customer record the integration created: nobody has signed up with it yet."""
    user = UserFactory(**fields)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def test_a_customer_is_updated_by_external_id(integration_client):
    _unclaimed(external_id="C-1", email="asha@example.com", first_name="Asha", city="Pune")

    body = _customers(integration_client, {"external_id": "C-1", "first_name": "Asha R", "city": "Mumbai"})

    assert _outcomes(body) == ["updated"]
    user = User.objects.get(external_id="C-1")
    assert (user.first_name, user.city, user.email) == ("Asha R", "Mumbai", "asha@example.com")


def test_a_customer_found_by_email_gets_the_external_id(integration_client):
    user = _unclaimed(email="asha@example.com", external_id=None)

    body = _customers(integration_client, {"external_id": "C-7", "email": "ASHA@example.com"})

    assert _outcomes(body) == ["updated"]
    user.refresh_from_db()
    assert user.external_id == "C-7"
    assert User.objects.count() == 1


def test_a_customer_sent_again_unchanged_is_unchanged(integration_client):
    UserFactory(external_id="C-1", email="asha@example.com", first_name="Asha", city="Pune")

    body = _customers(
        integration_client, {"external_id": "C-1", "email": "asha@example.com", "first_name": "Asha", "city": "Pune"}
    )

    assert _outcomes(body) == ["unchanged"]


def test_an_email_that_is_not_yet_claimed_may_change(integration_client):
    user = _unclaimed(external_id="C-1", email="old@example.com")

    body = _customers(integration_client, {"external_id": "C-1", "email": "new@example.com"})

    assert _outcomes(body) == ["updated"]
    assert User.objects.get(pk=user.pk).email == "new@example.com"


def test_an_external_id_and_email_of_two_customers_is_a_conflict(integration_client):
    UserFactory(external_id="C-1", email="asha@example.com", first_name="Asha")
    UserFactory(external_id="C-2", email="ravi@example.com")

    body = _customers(integration_client, {"external_id": "C-1", "email": "ravi@example.com", "first_name": "X"})

    assert _codes(body) == ["customer_conflict"]
    assert User.objects.get(external_id="C-1").first_name == "Asha"
    assert User.objects.get(external_id="C-2").email == "ravi@example.com"


def test_a_customer_who_signed_up_keeps_their_login_email(integration_client):
    UserFactory(external_id="C-1", email="asha@example.com", first_name="Asha")

    body = _customers(integration_client, {"external_id": "C-1", "email": "other@example.com", "first_name": "X"})

    assert _codes(body) == ["email_locked"]
    user = User.objects.get(external_id="C-1")
    assert (user.email, user.first_name) == ("asha@example.com", "Asha")


def test_a_customer_who_signed_up_is_never_changed_by_the_integration(integration_client):
    UserFactory(external_id=None, email="asha@example.com", first_name="Asha", city="Pune")

    body = _customers(
        integration_client,
        {"email": "asha@example.com", "first_name": "X"},
        {"external_id": "C-1", "email": "asha@example.com"},
        {"email": "asha@example.com", "first_name": "Asha", "city": "Pune"},
    )

    assert _codes(body) == ["customer_claimed", "customer_claimed", None]
    assert _outcomes(body) == ["rejected", "rejected", "unchanged"]
    user = User.objects.get()
    assert (user.first_name, user.external_id) == ("Asha", None)


def _staff_without_password(kind: str) -> User:
    """Console accounts made without a password ("usable password: no", createsuperuser --noinput)."""
    if kind == "superuser":
        return User.objects.create_superuser("root@example.com", None)
    fields = {"staff": {"is_staff": True}, "admin": {"role": "ADMIN"}}[kind]
    return User.objects.create_user("root@example.com", None, **fields)


@pytest.mark.parametrize("kind", ["superuser", "staff", "admin"])
def test_the_integration_cannot_take_over_a_console_account(
    integration_client, api_client, mailoutbox, django_capture_on_commit_callbacks, kind
):
    root = _staff_without_password(kind)

    attach = _customers(integration_client, {"external_id": "EVIL-1", "email": "root@example.com"})
    rename = _customers(integration_client, {"email": "root@example.com", "first_name": "Mallory"})
    with django_capture_on_commit_callbacks(execute=True):
        forgot = api_client.post("/api/v1/auth/password/forgot", {"email": "root@example.com"})

    assert _codes(attach) == _codes(rename) == ["customer_protected"]
    root.refresh_from_db()
    assert (root.email, root.external_id, root.first_name) == ("root@example.com", None, "")
    assert forgot.status_code == 202
    assert mailoutbox == []


@pytest.mark.parametrize("kind", ["superuser", "staff", "admin"])
def test_a_console_account_with_an_external_id_is_not_changed_either(integration_client, kind):
    root = _staff_without_password(kind)
    User.objects.filter(pk=root.pk).update(external_id="C-1")

    body = _customers(integration_client, {"external_id": "C-1", "email": "evil@example.com"})

    assert _codes(body) == ["customer_protected"]
    assert User.objects.get(pk=root.pk).email == "root@example.com"


@pytest.mark.parametrize("kind", ["superuser", "staff", "admin"])
def test_events_are_never_bound_to_a_console_account(integration_client, kind):
    _staff_without_password(kind)
    ProductFactory(sku="PH-1")

    body = _events(integration_client, {**_event(sku="PH-1"), "customer": {"email": "root@example.com"}})

    assert _codes(body) == ["customer_protected"]
    assert not InteractionEvent.objects.exists()


def test_a_new_customer_needs_an_email(integration_client):
    body = _customers(integration_client, {"external_id": "C-404", "first_name": "Nobody"})

    assert _codes(body) == ["customer_email_required"]
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("item", "path"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"external_id": "C-1", "email": "a@example.com", "signed_up_at": "soon"}, "signed_up_at"),
        ({"first_name": "Nobody"}, "non_field_errors"),
    ],
)
def test_an_invalid_customer_is_a_validation_error(integration_client, item, path):
    body = _customers(integration_client, item)

    assert _codes(body) == ["validation_error"]
    assert path in body["results"][0]["error"]["details"]
    assert not User.objects.exists()


def test_a_customer_batch_stores_the_valid_items_and_rejects_the_others(integration_client):
    UserFactory(external_id="C-1", email="asha@example.com")

    body = _customers(
        integration_client,
        {"external_id": "C-2", "email": "ravi@example.com"},
        {"email": "bad"},
        {"external_id": "C-1", "email": "ravi@example.com"},
        {"external_id": "C-3", "email": "meera@example.com"},
    )

    assert _outcomes(body) == ["created", "rejected", "rejected", "created"]
    assert _codes(body)[2] == "customer_conflict"
    assert set(User.objects.values_list("external_id", flat=True)) == {"C-1", "C-2", "C-3"}
    assert User.objects.get(external_id="C-1").email == "asha@example.com"


def test_more_than_1000_customers_is_batch_too_large(integration_client):
    response = integration_client.post(CUSTOMERS, {"customers": [{"email": "a@example.com"}] * 1001})

    assert_error(response, 400, "batch_too_large")
    assert not User.objects.exists()


# --- Events -----------------------------------------------------------------------------------


@pytest.fixture
def shopper():
    return UserFactory(external_id="C-1", email="asha@example.com")


def _event(kind: str = "PRODUCT_VIEW", **extra) -> dict:
    return {"kind": kind, "customer": {"external_id": "C-1"}, "occurred_at": "2025-01-15T10:00:00Z", **extra}


def _events(client, payload) -> dict:
    response = client.post(EVENTS, payload)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_single_event_object_is_recorded(integration_client, shopper):
    product = ProductFactory(sku="PH-1")

    body = _events(integration_client, _event(sku="PH-1", external_id="EV-1"))

    assert body["created"] == 1
    assert body["results"] == [{"index": 0, "key": "EV-1", "outcome": "created"}]
    event = InteractionEvent.objects.get()
    assert (event.customer, event.kind, event.product, event.external_id) == (shopper, "PRODUCT_VIEW", product, "EV-1")
    assert event.occurred_at == datetime(2025, 1, 15, 10, tzinfo=UTC)


def test_a_batch_of_events_is_recorded(integration_client, shopper):
    ProductFactory(sku="PH-1")

    body = _events(
        integration_client,
        {"events": [_event("CART_ADD", sku="PH-1"), _event("WISHLIST_ADD", sku="PH-1"), _event("CART_ABANDON")]},
    )

    assert body["created"] == 3
    assert sorted(InteractionEvent.objects.values_list("kind", flat=True)) == [
        EventKind.CART_ABANDON,
        EventKind.CART_ADD,
        EventKind.WISHLIST_ADD,
    ]


def test_an_event_sent_again_with_its_external_id_is_a_replay(integration_client, shopper):
    ProductFactory(sku="PH-1")
    _events(integration_client, _event(sku="PH-1", external_id="EV-1"))

    body = _events(integration_client, {"events": [_event(sku="PH-1", external_id="EV-1")] * 2})

    assert _outcomes(body) == ["replayed", "replayed"]
    assert InteractionEvent.objects.count() == 1


def test_the_same_new_event_twice_in_a_batch_is_stored_once(integration_client, shopper):
    body = _events(integration_client, {"events": [_event("LOGIN", external_id="EV-1")] * 2})

    assert _outcomes(body) == ["created", "replayed"]
    assert InteractionEvent.objects.count() == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"kind": "CART_ADD"},
        {"occurred_at": "2025-01-15T10:00:01Z"},
        {"sku": "PH-2"},
        {"customer": {"external_id": "C-2", "email": "other@example.com"}},
    ],
    ids=["kind", "time", "sku", "customer"],
)
def test_an_event_replayed_with_another_body_is_idempotency_conflict(integration_client, shopper, changed):
    ProductFactory(sku="PH-1")
    ProductFactory(sku="PH-2")
    _events(integration_client, _event(sku="PH-1", external_id="EV-1"))

    body = _events(integration_client, {"events": [{**_event(sku="PH-1", external_id="EV-1"), **changed}]})

    (result,) = body["results"]
    assert result["outcome"] == "rejected"
    assert result["error"]["code"] == "idempotency_conflict"
    assert "EV-1" in result["error"]["message"]
    assert InteractionEvent.objects.count() == 1
    assert not InteractionEvent.objects.filter(customer__email="other@example.com").exists()


def test_an_event_replayed_naming_its_customer_another_way_is_a_replay(integration_client, shopper):
    _events(integration_client, _event("LOGIN", external_id="EV-1"))

    body = _events(integration_client, _event("LOGIN", external_id="EV-1", customer={"email": shopper.email}))

    assert _outcomes(body) == ["replayed"]


def test_one_external_id_twice_in_a_batch_with_two_bodies_rejects_the_second(integration_client, shopper):
    body = _events(
        integration_client,
        {"events": [_event("LOGIN", external_id="EV-1"), _event("CART_ABANDON", external_id="EV-1")]},
    )

    assert _outcomes(body) == ["created", "rejected"]
    assert body["results"][1]["error"]["code"] == "idempotency_conflict"
    assert list(InteractionEvent.objects.values_list("kind", flat=True)) == ["LOGIN"]


@pytest.mark.django_db(transaction=True)
def test_an_event_stored_meanwhile_under_the_same_id_rejects_a_concurrent_other_body(integration_key, shopper):
    """A holds EV-1 uncommitted (its login hook waits) while B, which did not see it, inserts
    EV-1 too: B's insert waits for A's commit and is skipped. B must not answer "created"."""
    inside, release = threading.Event(), threading.Event()

    def hold(logins) -> None:
        inside.set()
        release.wait(timeout=10)

    login_hooks.register("test-hold", hold)
    answers: dict[str, dict] = {}

    def send(name: str, kind: str) -> None:
        answers[name] = _events(client_with_key(integration_key), _event(kind, external_id="EV-1"))
        connection.close()

    try:
        first = threading.Thread(target=send, args=("A", "LOGIN"))
        first.start()
        assert inside.wait(timeout=10)
        second = threading.Thread(target=send, args=("B", "CART_ABANDON"))
        second.start()
        time.sleep(0.5)  # B reads no EV-1, then waits on the unique index for A
        release.set()
        first.join(timeout=10)
        second.join(timeout=10)
    finally:
        login_hooks.unregister("test-hold")

    assert _outcomes(answers["A"]) == ["created"]
    assert _outcomes(answers["B"]) == ["rejected"]
    assert answers["B"]["results"][0]["error"]["code"] == "idempotency_conflict"
    assert list(InteractionEvent.objects.values_list("kind", flat=True)) == ["LOGIN"]


def test_a_product_event_without_a_sku_is_sku_required(integration_client, shopper):
    body = _events(integration_client, _event("PRODUCT_VIEW"))

    assert _codes(body) == ["sku_required"]
    assert not InteractionEvent.objects.exists()


def test_an_event_naming_an_unknown_sku_is_sku_unknown(integration_client, shopper):
    body = _events(integration_client, _event("CART_ADD", sku="NOPE"))

    assert _codes(body) == ["sku_unknown"]
    assert "NOPE" in body["results"][0]["error"]["message"]
    assert not InteractionEvent.objects.exists()


def test_a_login_needs_no_sku(integration_client, shopper):
    body = _events(integration_client, _event("LOGIN"))

    assert _outcomes(body) == ["created"]
    assert InteractionEvent.objects.get().product is None


def test_an_event_of_an_unknown_customer_external_id_is_customer_unknown(integration_client):
    body = _events(integration_client, _event("LOGIN", customer={"external_id": "C-404"}))

    assert _codes(body) == ["customer_unknown"]
    assert not InteractionEvent.objects.exists()
    assert not User.objects.exists()


def test_an_event_creates_a_customer_named_by_email(integration_client):
    body = _events(integration_client, _event("LOGIN", customer={"external_id": "C-9", "email": "New@Example.com"}))

    assert _outcomes(body) == ["created"]
    user = User.objects.get(email="new@example.com")
    assert user.external_id == "C-9"
    assert not user.has_usable_password()
    assert InteractionEvent.objects.get().customer == user


def test_a_rejected_event_does_not_create_its_customer(integration_client):
    body = _events(integration_client, _event("CART_ADD", sku="NOPE", customer={"email": "new@example.com"}))

    assert _codes(body) == ["sku_unknown"]
    assert not User.objects.exists()


def test_an_invalid_event_is_rejected_and_the_others_are_stored(integration_client, shopper):
    body = _events(
        integration_client,
        {"events": [_event("LOGIN"), _event("DANCE"), _event("LOGIN", occurred_at="later")]},
    )

    assert _outcomes(body) == ["created", "rejected", "rejected"]
    assert "kind" in body["results"][1]["error"]["details"]
    assert "occurred_at" in body["results"][2]["error"]["details"]
    assert InteractionEvent.objects.count() == 1


def test_more_than_1000_events_is_batch_too_large(integration_client, shopper):
    response = integration_client.post(EVENTS, {"events": [_event("LOGIN")] * 1001})

    assert_error(response, 400, "batch_too_large")
    assert not InteractionEvent.objects.exists()


@pytest.mark.parametrize("payload", [{"events": []}, {"events": "LOGIN"}, [_event("LOGIN")]])
def test_an_events_body_that_is_not_an_event_or_a_list_of_events_is_400(integration_client, payload):
    assert_error(integration_client.post(EVENTS, payload), 400, "validation_error")


# --- Event times ----------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00", "1899-06-01T00:00:00Z"])
def test_a_date_out_of_range_rejects_the_item_not_the_server(integration_client, when):
    response = integration_client.post(
        "/api/v1/commerce/events/",
        {"kind": "LOGIN", "customer": {"email": "e1@example.com"}, "occurred_at": when},
        format="json",
    )

    assert response.status_code == 200, response.content
    result = response.json()["results"][0]
    assert result["outcome"] == "rejected" and "occurred_at" in result["error"]["details"]
