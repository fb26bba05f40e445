"""A person's notification preferences and push devices over HTTP."""

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import UserFactory
from lms.testing import assert_error, run_concurrently
from notifications.models import Preference, PushDevice
from notifications.services.preferences import preferences_update, push_device_register

pytestmark = pytest.mark.django_db

PREFS = "/api/v1/notifications/preferences"
DEVICES = "/api/v1/notifications/devices"


def _field_error(response, field: str) -> dict:
    body = assert_error(response, 400, "validation_error")
    assert field in body["details"], body
    return body


def test_preferences_read_as_defaults_without_writing_a_row(customer, customer_client):
    body = customer_client.get(PREFS).json()

    assert body == {
        "marketing_email": False, "marketing_sms": False, "marketing_push": False,
        "in_app": True, "timezone": "", "quiet_start": None, "quiet_end": None,
    }  # fmt: skip
    assert not Preference.objects.exists()


def test_a_patch_creates_the_row_and_changes_the_consents_on_the_profile(customer, customer_client):
    response = customer_client.patch(
        PREFS,
        {"marketing_email": True, "marketing_push": True, "in_app": False, "timezone": "Europe/Berlin",
         "quiet_start": "22:00", "quiet_end": "07:30"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 200, response.content
    assert response.json() == {
        "marketing_email": True, "marketing_sms": False, "marketing_push": True, "in_app": False,
        "timezone": "Europe/Berlin", "quiet_start": "22:00:00", "quiet_end": "07:30:00",
    }  # fmt: skip
    customer.refresh_from_db()
    assert (customer.marketing_email, customer.marketing_sms, customer.marketing_push) == (True, False, True)
    pref = Preference.objects.get(user=customer)
    assert (pref.in_app, pref.timezone, str(pref.quiet_start), str(pref.quiet_end)) == (
        False, "Europe/Berlin", "22:00:00", "07:30:00",
    )  # fmt: skip
    assert customer_client.get(PREFS).json() == response.json()


def test_one_end_of_the_quiet_hours_may_change_alone_and_null_clears_both(customer, customer_client):
    customer_client.patch(PREFS, {"quiet_start": "22:00", "quiet_end": "07:00"}, format="json")

    moved = customer_client.patch(PREFS, {"quiet_end": "06:00"}, format="json")
    cleared = customer_client.patch(PREFS, {"quiet_start": None, "quiet_end": None}, format="json")

    assert (moved.json()["quiet_start"], moved.json()["quiet_end"]) == ("22:00:00", "06:00:00")
    assert (cleared.json()["quiet_start"], cleared.json()["quiet_end"]) == (None, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": "x" * 65}, "timezone"),
        ({"quiet_start": "22:00"}, "quiet_end"),
        ({"quiet_end": "07:00"}, "quiet_start"),
        ({"quiet_start": "22:00", "quiet_end": "22:00"}, "quiet_end"),
        ({"quiet_start": "25:00", "quiet_end": "07:00"}, "quiet_start"),
        ({"in_app": "sometimes"}, "in_app"),
        ({"email": "new@example.com"}, "email"),
        ({"role": "ADMIN"}, "role"),
    ],
)
def test_bad_preferences_are_a_400_naming_the_field_and_change_nothing(customer, customer_client, body, field):
    _field_error(customer_client.patch(PREFS, body, format="json"), field)

    customer.refresh_from_db()
    assert customer.role == "USER" and customer.email == "asha@example.com"
    assert not Preference.objects.exists()


def test_clearing_one_end_of_set_quiet_hours_is_refused(customer, customer_client):
    customer_client.patch(PREFS, {"quiet_start": "22:00", "quiet_end": "07:00"}, format="json")

    _field_error(customer_client.patch(PREFS, {"quiet_end": None}, format="json"), "quiet_end")

    pref = Preference.objects.get(user=customer)
    assert (str(pref.quiet_start), str(pref.quiet_end)) == ("22:00:00", "07:00:00")


def test_preferences_are_for_signed_in_people(api_client):
    assert api_client.get(PREFS).status_code == 401
    assert api_client.patch(PREFS, {"in_app": False}, format="json").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_two_first_writes_at_once_make_one_row_with_both_changes():
    user = UserFactory()
    changes = [{"in_app": False}, {"timezone_name": "Asia/Tokyo"}, {"marketing_sms": True}, {"quiet_start": None}]

    run_concurrently(4, lambda i: preferences_update(user=User.objects.get(pk=user.pk), **changes[i]))

    pref = Preference.objects.get(user=user)
    assert (pref.in_app, pref.timezone) == (False, "Asia/Tokyo")
    assert User.objects.get(pk=user.pk).marketing_sms is True


# --- Push devices ----------------------------------------------------------------------------


def test_registering_a_device_is_idempotent_on_its_token(customer, customer_client):
    first = customer_client.post(DEVICES, {"token": "fcm-token-1", "platform": "android"}, format="json")
    again = customer_client.post(DEVICES, {"token": "fcm-token-1", "platform": "android"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["platform"] == "android" and first.json()["active"] is True
    assert list(PushDevice.objects.values_list("user_id", "token")) == [(customer.pk, "fcm-token-1")]


def test_a_token_registered_by_another_account_moves_to_the_caller(customer, customer_client, client_for):
    other = UserFactory()
    client_for(other).post(DEVICES, {"token": "shared-phone", "platform": "ios"}, format="json")

    response = customer_client.post(DEVICES, {"token": "shared-phone", "platform": "ios"}, format="json")

    assert response.status_code == 200
    assert list(PushDevice.objects.values_list("user_id", flat=True)) == [customer.pk]


def test_a_deactivated_device_registered_again_is_active(customer, customer_client):
    device, _ = push_device_register(user=customer, token="t-1", platform="web")
    PushDevice.objects.filter(pk=device.pk).update(active=False)

    assert customer_client.post(DEVICES, {"token": "t-1"}, format="json").json()["active"] is True


@pytest.mark.parametrize("by", ["id", "token"])
def test_a_device_is_removed_by_its_id_or_its_token(customer, customer_client, by):
    device, _ = push_device_register(user=customer, token="apns-abc", platform="ios")

    response = customer_client.delete(f"{DEVICES}/{device.pk if by == 'id' else device.token}")

    assert response.status_code == 204
    assert not PushDevice.objects.exists()


@pytest.mark.parametrize("by", ["id", "token"])
def test_another_persons_device_is_a_404_and_stays(customer_client, by):
    device, _ = push_device_register(user=UserFactory(), token="theirs", platform="ios")

    response = customer_client.delete(reverse("notification-device", args=[device.pk if by == "id" else "theirs"]))

    assert_error(response, 404, "not_found")
    assert PushDevice.objects.filter(pk=device.pk).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"token": ""}, "token"),
        ({"platform": "ios"}, "token"),
        ({"token": "x" * 513}, "token"),
        ({"token": "t", "platform": "blackberry"}, "platform"),
        ({"token": ["t"]}, "token"),
    ],
)
def test_bad_device_registrations_are_a_400_naming_the_field(customer_client, body, field):
    _field_error(customer_client.post(DEVICES, body, format="json"), field)
    assert not PushDevice.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_one_token_registered_by_several_accounts_at_once_is_one_row():
    users = [UserFactory() for _ in range(4)]

    run_concurrently(4, lambda i: push_device_register(user=users[i], token="race-token", platform="android"))

    assert PushDevice.objects.filter(token="race-token").count() == 1
    assert PushDevice.objects.get().user_id in {u.pk for u in users}
