"""Sign-up of a verified address: POST /api/v1/auth/signup (seed: POST /user/signup)."""

import re
import threading
from datetime import timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.settings import api_settings

from accounts.models import EmailOTP, LoginEvent, Role, User
from accounts.services import session_start
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from lms.testing import assert_error

SIGNUP = "/api/v1/auth/signup"
PASSWORD = "Tidal-Lantern-93"
SIX_DIGITS = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def verified_token(mailoutbox, django_capture_on_commit_callbacks):
    """``verified_token(email)``: send a code, verify it, answer the token (seed paths optional)."""

    def verify(
        email: str, send_path: str = "/api/v1/auth/otp/send", verify_path: str = "/api/v1/auth/otp/verify"
    ) -> str:
        client = APIClient()
        with django_capture_on_commit_callbacks(execute=True):
            sent = client.post(send_path, {"email": email}, format="json")
        assert sent.status_code == 202, sent.json()
        code = SIX_DIGITS.search(mailoutbox[-1].body).group(1)
        verified = client.post(verify_path, {"email": email, "otp": code}, format="json")
        assert verified.status_code == 200, verified.json()
        return verified.json()["token"]

    return verify


def signup_body(token: str | None = None, **overrides) -> dict:
    body = {"first_name": "Asha", "last_name": "Rao", "email": "asha@example.com", "password": PASSWORD}
    if token is not None:
        body["token"] = token
    return {**body, **overrides}


# --- the happy paths --------------------------------------------------------------------------


@pytest.mark.django_db
def test_verified_address_signs_up_as_a_user_and_gets_a_session(api_client, verified_token):
    token = verified_token("Asha@Example.com")

    response = api_client.post(SIGNUP, signup_body(token, email="Asha@Example.com", role="ADMIN"), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"user", "access", "refresh"}
    assert body["user"]["email"] == "asha@example.com"
    assert body["user"]["role"] == "USER"
    assert (body["user"]["first_name"], body["user"]["last_name"]) == ("Asha", "Rao")

    user = User.objects.get()
    assert user.pk == body["user"]["id"]
    assert user.email == "asha@example.com"
    assert user.role == Role.USER
    assert not user.is_staff and not user.is_superuser
    assert user.email_verified_at is not None
    assert user.check_password(PASSWORD)
    assert list(LoginEvent.objects.values_list("user_id", "method")) == [(user.pk, LoginEvent.Method.SIGNUP)]

    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    profile = me.get("/api/v1/me")
    assert profile.status_code == 200, profile.json()
    assert profile.json()["email"] == "asha@example.com"
    assert profile.json()["email_verified"] is True


@pytest.mark.django_db
def test_token_may_come_as_a_bearer_header(api_client, verified_token):
    token = verified_token("asha@example.com")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.post(SIGNUP, signup_body(), format="json")

    assert response.status_code == 201, response.json()
    assert User.objects.filter(email="asha@example.com").exists()


@pytest.mark.django_db
def test_seed_routes_carry_the_whole_signup_flow(verified_token):
    token = verified_token("asha@example.com", send_path="/user/send-otp", verify_path="/user/verify-otp")

    response = APIClient().post("/user/signup", signup_body(token), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["user"]["email"] == "asha@example.com"
    assert User.objects.filter(email="asha@example.com").count() == 1


@pytest.mark.django_db
def test_customer_record_without_password_is_claimed(api_client, verified_token):
    record = User.objects.create_user(email="asha@example.com", password=None)
    assert not record.has_usable_password()
    token = verified_token("asha@example.com")

    response = api_client.post(SIGNUP, signup_body(token), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["user"]["id"] == record.pk
    assert User.objects.count() == 1
    record.refresh_from_db()
    assert record.has_usable_password()
    assert record.check_password(PASSWORD)
    assert (record.first_name, record.last_name) == ("Asha", "Rao")
    assert record.email_verified_at is not None
    assert record.role == Role.USER


@pytest.mark.django_db
@pytest.mark.parametrize(
    "record_fields",
    [
        {"is_active": False},
        {"is_staff": True},
        {"role": Role.ADMIN},
        {"is_superuser": True, "is_staff": True, "role": Role.ADMIN},
    ],
    ids=["inactive", "staff", "admin", "superuser"],
)
def test_only_plain_customer_records_can_be_claimed(api_client, verified_token, record_fields):
    record = User.objects.create_user(email="asha@example.com", password=None, **record_fields)
    token = verified_token("asha@example.com")

    response = api_client.post(SIGNUP, signup_body(token), format="json")

    assert_error(response, 409, "email_taken")
    record.refresh_from_db()
    assert not record.has_usable_password()


# --- the verification token -------------------------------------------------------------------


@pytest.mark.django_db
def test_verification_token_is_a_jwt_for_email_verification_signed_like_the_others(verified_token):
    token = verified_token("Asha@Example.com")

    claims = TokenBackend(api_settings.ALGORITHM, api_settings.SIGNING_KEY, api_settings.VERIFYING_KEY).decode(
        token, verify=True
    )

    assert claims["token_type"] == "email_verification"
    assert claims["email"] == "asha@example.com"
    assert claims["exp"] - claims["iat"] == 30 * 60
    assert "user_id" not in claims


@pytest.mark.django_db
def test_verification_token_is_refused_where_a_session_token_is_expected(api_client, verified_token):
    token = verified_token("asha@example.com")

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    as_access = api_client.get("/api/v1/me")
    api_client.credentials()
    as_refresh = api_client.post("/api/v1/auth/token/refresh", {"refresh": token}, format="json")
    as_signout = api_client.post("/api/v1/auth/signout", {"refresh": token}, format="json")

    assert_error(as_access, 401, "token_not_valid")
    assert_error(as_refresh, 401, "token_not_valid")
    assert_error(as_signout, 401, "token_not_valid")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_session_tokens_are_refused_by_signup(api_client, kind):
    holder = UserFactory(email="holder@example.com")
    token = getattr(session_start(user=holder), kind)

    response = api_client.post(SIGNUP, signup_body(token, email="holder@example.com"), format="json")

    assert_error(response, 400, "verification_token_invalid")


@pytest.mark.django_db
def test_missing_token_is_a_validation_error(api_client):
    response = api_client.post(SIGNUP, signup_body(), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "token" in response.json()["details"]
    assert not User.objects.exists()


@pytest.mark.django_db
def test_tampered_token_is_refused(api_client, verified_token):
    token = verified_token("asha@example.com")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    response = api_client.post(SIGNUP, signup_body(tampered), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "verification_token_invalid"
    assert not User.objects.exists()


@pytest.mark.django_db
def test_garbage_bearer_token_is_refused(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = api_client.post(SIGNUP, signup_body(), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "verification_token_invalid"


@pytest.mark.django_db
def test_expired_token_is_refused(api_client, verified_token, settings):
    token = verified_token("asha@example.com")
    settings.EMAIL_VERIFICATION_TOKEN_TTL = timedelta(seconds=-1)

    response = api_client.post(SIGNUP, signup_body(token), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "verification_token_expired"
    assert not User.objects.exists()


@pytest.mark.django_db
def test_token_for_another_address_is_refused(api_client, verified_token):
    bobs_token = verified_token("bob@example.com")

    response = api_client.post(SIGNUP, signup_body(bobs_token), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "verification_token_mismatch"
    assert not User.objects.exists()


# --- passwords and conflicts ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["password", "12345678", "Ab3$xyz", "asha@example.com", "x" * 129])
def test_weak_or_oversized_password_is_refused(api_client, verified_token, password):
    token = verified_token("asha@example.com")

    response = api_client.post(SIGNUP, signup_body(token, password=password), format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "validation_error"
    assert "password" in response.json()["details"]
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"first_name": ""}, "first_name"),
        ({"first_name": "x" * 151}, "first_name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": ["asha@example.com"]}, "email"),
        ({"password": 12345678901}, "password"),
    ],
)
def test_bad_fields_are_validation_errors(api_client, verified_token, overrides, field):
    token = verified_token("asha@example.com")

    response = api_client.post(SIGNUP, signup_body(token, **overrides), format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["details"]
    assert not User.objects.exists()


@pytest.mark.django_db
def test_existing_account_is_a_conflict_whatever_the_case(api_client, customer, verified_token):
    token = verified_token("Asha@Example.com")

    response = api_client.post(SIGNUP, signup_body(token, email="Asha@Example.com"), format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert User.objects.count() == 1
    customer.refresh_from_db()
    assert customer.check_password(DEFAULT_PASSWORD)
    assert not LoginEvent.objects.exists()


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_signups_for_one_address_create_one_user(verified_token):
    token = verified_token("asha@example.com")
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def signup(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            response = APIClient().post(SIGNUP, signup_body(token), format="json")
            results[index] = (response.status_code, response.json())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=signup, args=(i,), daemon=True) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads)
    assert sorted(status for status, _ in results) == [201, 409], results
    assert [body["code"] for status, body in results if status == 409] == ["email_taken"]
    assert User.objects.filter(email="asha@example.com").count() == 1
    assert LoginEvent.objects.count() == 1
    assert EmailOTP.objects.filter(consumed_at__isnull=False).count() == 1
