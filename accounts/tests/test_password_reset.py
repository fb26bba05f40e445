"""Forgot password, reset-token checks and resets, on the canonical and the seed routes."""

import re

import pytest
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import User
from accounts.services import password_reset_token_make, session_start
from accounts.tasks import password_reset_email_send_task
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from lms.testing import assert_error

FORGOT = "/api/v1/auth/password/forgot"
RESET = "/api/v1/auth/password/reset"
SIGNIN = "/api/v1/auth/signin"
NEW_PASSWORD = "Brand-New-Secret-77"

pytestmark = pytest.mark.django_db


def _token_in(message, prefix: str) -> str:
    match = re.search(re.escape(prefix) + r"\?token=([\w.\-]+)", message.body)
    assert match, message.body
    return match.group(1)


def _forgot(api_client, django_capture_on_commit_callbacks, email: str, path: str = FORGOT):
    with django_capture_on_commit_callbacks(execute=True):
        return api_client.post(path, {"email": email})


def _signs_in(api_client, email: str, password: str) -> bool:
    return api_client.post(SIGNIN, {"email": email, "password": password}).status_code == 200


# --- Forgot -----------------------------------------------------------------------------------


def test_forgot_answers_the_same_for_known_and_unknown_addresses(
    api_client, customer, mailoutbox, django_capture_on_commit_callbacks
):
    known = _forgot(api_client, django_capture_on_commit_callbacks, "asha@example.com")
    unknown = _forgot(api_client, django_capture_on_commit_callbacks, "nobody@example.com")

    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert [message.to for message in mailoutbox] == [["asha@example.com"]]


def test_forgot_mails_a_reset_link_in_text_and_html(
    api_client, customer, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_RESET_URL = "https://shop.example.com/account/reset"

    response = _forgot(api_client, django_capture_on_commit_callbacks, "ASHA@example.com")

    assert response.status_code == 202
    (message,) = mailoutbox
    assert message.to == ["asha@example.com"]
    token = _token_in(message, "https://shop.example.com/account/reset")
    html_parts = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    assert len(html_parts) == 1
    assert f"https://shop.example.com/account/reset?token={token}" in html_parts[0]
    assert api_client.get(RESET, {"token": token}).json() == {"valid": True}


def test_forgot_sends_nothing_for_an_inactive_account(api_client, mailoutbox, django_capture_on_commit_callbacks):
    UserFactory(email="gone@example.com", is_active=False)

    response = _forgot(api_client, django_capture_on_commit_callbacks, "gone@example.com")

    assert response.status_code == 202
    assert mailoutbox == []


@pytest.mark.parametrize(
    "fields", [{}, {"is_staff": True}, {"role": "ADMIN", "is_staff": True}], ids=["customer-record", "staff", "admin"]
)
def test_forgot_sends_nothing_for_an_account_without_a_password(
    api_client, mailoutbox, django_capture_on_commit_callbacks, fields
):
    User.objects.create_user("nopass@example.com", None, **fields)

    response = _forgot(api_client, django_capture_on_commit_callbacks, "nopass@example.com")

    assert response.status_code == 202
    assert mailoutbox == []


def test_reset_token_of_an_account_without_a_password_is_invalid(api_client):
    user = User.objects.create_superuser("root@example.com", None)
    token = password_reset_token_make(user=user)

    assert api_client.get(RESET, {"token": token}).json() == {"valid": False}
    assert_error(api_client.post(RESET, {"token": token, "password": NEW_PASSWORD}), 400, "reset_token_invalid")
    assert not User.objects.get(pk=user.pk).has_usable_password()


def test_forgot_with_a_malformed_address_is_a_validation_error(api_client):
    response = api_client.post(FORGOT, {"email": "not-an-address"})

    assert "email" in assert_error(response, 400, "validation_error")["details"]


def test_forgot_is_throttled_per_address(api_client, customer, monkeypatch, django_capture_on_commit_callbacks):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "password_forgot_email": "2/h"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    for _ in range(2):
        assert _forgot(api_client, django_capture_on_commit_callbacks, customer.email).status_code == 202

    response = _forgot(api_client, django_capture_on_commit_callbacks, customer.email)

    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert _forgot(api_client, django_capture_on_commit_callbacks, "someone-else@example.com").status_code == 202


# --- Token check ------------------------------------------------------------------------------


def test_a_fresh_token_is_valid(api_client, customer):
    token = password_reset_token_make(user=customer)

    response = api_client.get(RESET, {"token": token})

    assert response.status_code == 200
    assert response.json() == {"valid": True}


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("?token=garbage", id="garbage"),
        pytest.param("?token=", id="empty"),
        pytest.param("", id="missing"),
        pytest.param("?token=%FF%FE.abc", id="not-utf8"),
        pytest.param("?token=" + urlsafe_base64_encode(force_bytes("9" * 30)) + ".abc-def", id="huge-id"),
        pytest.param("?token=" + urlsafe_base64_encode(b"\xff\xfe") + ".abc-def", id="binary-id"),
        pytest.param("?token=" + "A" * 5000, id="very-long"),
    ],
)
def test_a_bad_token_is_reported_invalid_never_an_error(api_client, customer, query):
    response = api_client.get(RESET + query)

    assert response.status_code == 200
    assert response.json() == {"valid": False}


def test_a_truncated_or_foreign_token_is_invalid(api_client, customer):
    token = password_reset_token_make(user=customer)
    other = UserFactory(email="other@example.com")
    uid_of_other = urlsafe_base64_encode(force_bytes(other.pk))
    foreign = f"{uid_of_other}.{token.partition('.')[2]}"

    assert api_client.get(RESET, {"token": token[:-1]}).json() == {"valid": False}
    assert api_client.get(RESET, {"token": foreign}).json() == {"valid": False}


def test_token_expires(api_client, customer, settings):
    token = password_reset_token_make(user=customer)
    settings.PASSWORD_RESET_TIMEOUT = -1

    check = api_client.get(RESET, {"token": token})
    reset = api_client.post(RESET, {"token": token, "password": NEW_PASSWORD})

    assert check.json() == {"valid": False}
    assert_error(reset, 400, "reset_token_invalid")
    customer.refresh_from_db()
    assert customer.check_password(DEFAULT_PASSWORD)


# --- Reset ------------------------------------------------------------------------------------


def test_reset_sets_the_new_password(api_client, customer):
    token = password_reset_token_make(user=customer)

    response = api_client.post(RESET, {"token": token, "password": NEW_PASSWORD})

    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    assert _signs_in(api_client, customer.email, NEW_PASSWORD)
    assert not _signs_in(api_client, customer.email, DEFAULT_PASSWORD)


def test_reset_token_is_single_use(api_client, customer):
    token = password_reset_token_make(user=customer)
    assert api_client.post(RESET, {"token": token, "password": NEW_PASSWORD}).status_code == 200

    second = api_client.post(RESET, {"token": token, "password": "Another-Secret-99"})

    assert_error(second, 400, "reset_token_invalid")
    assert api_client.get(RESET, {"token": token}).json() == {"valid": False}
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)


def test_token_dies_when_the_password_changes_another_way(api_client, customer):
    token = password_reset_token_make(user=customer)
    customer.set_password("Changed-Elsewhere-5")
    customer.save()

    check = api_client.get(RESET, {"token": token})
    reset = api_client.post(RESET, {"token": token, "password": NEW_PASSWORD})

    assert check.json() == {"valid": False}
    assert_error(reset, 400, "reset_token_invalid")
    customer.refresh_from_db()
    assert customer.check_password("Changed-Elsewhere-5")


def test_reset_token_of_a_deactivated_user_is_invalid(api_client, customer):
    token = password_reset_token_make(user=customer)
    User.objects.filter(pk=customer.pk).update(is_active=False)

    assert api_client.get(RESET, {"token": token}).json() == {"valid": False}
    assert_error(api_client.post(RESET, {"token": token, "password": NEW_PASSWORD}), 400, "reset_token_invalid")


def test_reset_ends_every_session_of_the_user(api_client, customer):
    sessions = [session_start(user=customer) for _ in range(2)]
    token = password_reset_token_make(user=User.objects.get(pk=customer.pk))  # after the logins

    response = api_client.post(RESET, {"token": token, "password": NEW_PASSWORD})

    assert response.status_code == 200, response.json()
    outstanding = OutstandingToken.objects.filter(user=customer)
    assert outstanding.count() == 2
    assert BlacklistedToken.objects.filter(token__in=outstanding).count() == 2
    for session in sessions:
        assert_error(
            api_client.post("/api/v1/auth/token/refresh", {"refresh": session.refresh}), 401, "token_not_valid"
        )


def test_reset_ends_the_access_tokens_of_every_session(api_client, customer):
    sessions = [session_start(user=customer) for _ in range(2)]
    token = password_reset_token_make(user=User.objects.get(pk=customer.pk))

    assert api_client.post(RESET, {"token": token, "password": NEW_PASSWORD}).status_code == 200

    for session in sessions:
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.access}")
        assert_error(api_client.get("/api/v1/me"), 401, "token_not_valid")


def test_weak_new_password_is_refused_and_the_token_survives(api_client, customer):
    token = password_reset_token_make(user=customer)

    response = api_client.post(RESET, {"token": token, "password": "12345678"})

    assert "password" in assert_error(response, 400, "validation_error")["details"]
    customer.refresh_from_db()
    assert customer.check_password(DEFAULT_PASSWORD)
    assert api_client.get(RESET, {"token": token}).json() == {"valid": True}


def test_overlong_new_password_is_refused(api_client, customer):
    token = password_reset_token_make(user=customer)

    response = api_client.post(RESET, {"token": token, "password": "Aa1-" * 40})

    assert "password" in assert_error(response, 400, "validation_error")["details"]
    customer.refresh_from_db()
    assert customer.check_password(DEFAULT_PASSWORD)


def test_reset_with_a_bad_token_or_missing_fields(api_client, customer):
    bad_token = api_client.post(RESET, {"token": "garbage", "password": NEW_PASSWORD})
    missing = api_client.post(RESET, {})

    assert_error(bad_token, 400, "reset_token_invalid")
    details = assert_error(missing, 400, "validation_error")["details"]
    assert {"token", "password"} <= set(details)


# --- The whole journey on the seed routes -----------------------------------------------------


def test_full_account_journey_through_the_seed_routes(
    api_client, mailoutbox, settings, django_capture_on_commit_callbacks
):
    email = "journey@example.com"

    with django_capture_on_commit_callbacks(execute=True):
        sent = api_client.post("/user/send-otp", {"email": email})
    assert sent.status_code == 202, sent.json()
    code = re.search(r"\b(\d{6})\b", mailoutbox[-1].body).group(1)

    verified = api_client.post("/user/verify-otp", {"email": email, "otp": code})
    assert verified.status_code == 200, verified.json()

    signup = api_client.post(
        "/user/signup",
        {
            "email": email,
            "first_name": "Jo",
            "last_name": "Urney",
            "password": DEFAULT_PASSWORD,
            "token": verified.json()["token"],
        },
    )
    assert signup.status_code == 201, signup.json()
    user = User.objects.get(email=email)
    assert user.email_verified

    signin = api_client.post("/auth/signin", {"email": email, "password": DEFAULT_PASSWORD})
    assert signin.status_code == 200, signin.json()

    refreshed = api_client.post("/api/v1/auth/token/refresh", {"refresh": signin.json()["refresh"]})
    assert refreshed.status_code == 200, refreshed.json()

    forgot = _forgot(api_client, django_capture_on_commit_callbacks, email, path="/auth/forget-password")
    assert forgot.status_code == 202
    token = _token_in(mailoutbox[-1], settings.PASSWORD_RESET_URL)

    check = api_client.get("/auth/reset-password", {"token": token})
    assert check.status_code == 200
    assert check.json() == {"valid": True}

    reset = api_client.post("/auth/reset-password", {"token": token, "password": NEW_PASSWORD})
    assert reset.status_code == 200, reset.json()

    old = api_client.post("/auth/signin", {"email": email, "password": DEFAULT_PASSWORD})
    new = api_client.post("/auth/signin", {"email": email, "password": NEW_PASSWORD})
    assert_error(old, 401, "invalid_credentials")
    assert new.status_code == 200, new.json()
    assert new.json()["user"]["email"] == email
    assert_error(
        api_client.post("/api/v1/auth/token/refresh", {"refresh": refreshed.json()["refresh"]}), 401, "token_not_valid"
    )


# --- The reset mail and its task ------------------------------------------------------------------


@pytest.mark.django_db
def test_forgot_password_does_the_same_work_for_unknown_and_known_addresses(
    api_client, customer, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks() as unknown_callbacks:
        api_client.post("/api/v1/auth/password/forgot", {"email": "nobody@example.com"})
    with django_capture_on_commit_callbacks() as known_callbacks:
        api_client.post("/api/v1/auth/password/forgot", {"email": customer.email})

    # One task enqueued in both cases; only the worker finds out whether to send.
    assert len(unknown_callbacks) == len(known_callbacks) == 1
    for callback in (*unknown_callbacks, *known_callbacks):
        callback()
    assert [message.to for message in mailoutbox] == [[customer.email]]


@pytest.mark.django_db
def test_a_redelivered_reset_task_does_not_mail_twice(customer, mailoutbox):
    password_reset_email_send_task.apply(args=[customer.email], task_id="redelivered-task")
    password_reset_email_send_task.apply(args=[customer.email], task_id="redelivered-task")

    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_reset_mail_text_is_not_html_escaped_and_keeps_the_link_query(settings, mailoutbox):
    settings.PASSWORD_RESET_URL = "https://shop.example.com/reset?lang=en&src=mail"
    user = UserFactory(email="obrien@example.com", first_name="Seán O'Brien & Co")

    password_reset_email_send_task.apply(args=[user.email])

    text = mailoutbox[0].body
    assert "Seán O'Brien & Co" in text
    assert "https://shop.example.com/reset?lang=en&src=mail&token=" in text
