"""Sign-in, token refresh (rotation with blacklist) and sign-out."""

import base64
import json
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import ScryptPasswordHasher
from django.db import OperationalError, connection
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import LoginEvent, TokenFamily, User
from accounts.services import session_start
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from lms.testing import assert_error, run_concurrently

SIGNIN = "/api/v1/auth/signin"
REFRESH = "/api/v1/auth/token/refresh"
SIGNOUT = "/api/v1/auth/signout"
ME = "/api/v1/me"

pytestmark = pytest.mark.django_db


class CountingScryptHasher(ScryptPasswordHasher):
    """Scrypt, counting how often it hashes, to prove an unknown address costs a hash too."""

    calls = 0

    def encode(self, password, salt, *args, **kwargs):
        CountingScryptHasher.calls += 1
        return super().encode(password, salt, *args, **kwargs)

    def verify(self, password, encoded):
        CountingScryptHasher.calls += 1
        return super().verify(password, encoded)


def _throttle_rates(monkeypatch, **rates: str) -> None:
    # DRF copies the rates onto the class at import time; settings overrides do not reach it.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **rates})


def _forged(token: str, **claims) -> str:
    """The token with its payload changed and the original signature kept."""
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(claims)
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


# --- Sign-in ----------------------------------------------------------------------------------


def test_signin_answers_tokens_and_the_user(api_client, customer):
    response = api_client.post(SIGNIN, {"email": "asha@example.com", "password": DEFAULT_PASSWORD})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"access", "refresh", "user"}
    assert body["user"] == {
        "id": customer.pk,
        "email": "asha@example.com",
        "first_name": "Asha",
        "last_name": "Rao",
        "role": "USER",
    }
    refresh = RefreshToken(body["refresh"])
    assert OutstandingToken.objects.filter(user=customer, jti=refresh["jti"]).exists()


def test_signin_email_is_case_insensitive(api_client, customer):
    response = api_client.post(SIGNIN, {"email": "  ASHA@Example.COM ", "password": DEFAULT_PASSWORD})

    assert response.status_code == 200, response.json()
    assert response.json()["user"]["id"] == customer.pk


def test_seed_signin_route_answers_like_the_canonical_one(api_client, customer):
    response = api_client.post("/auth/signin", {"email": "asha@example.com", "password": DEFAULT_PASSWORD})

    assert response.status_code == 200, response.json()
    assert set(response.json()) == {"access", "refresh", "user"}
    assert response.json()["user"]["email"] == "asha@example.com"


def test_access_token_carries_the_role_and_authenticates_me(api_client, customer):
    access = api_client.post(SIGNIN, {"email": customer.email, "password": DEFAULT_PASSWORD}).json()["access"]

    claims = AccessToken(access)
    assert claims["role"] == "USER"
    assert claims["user_id"] == str(customer.pk)
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    response = me.get("/api/v1/me")
    assert response.status_code == 200, response.json()
    assert response.json()["email"] == customer.email


def test_admin_token_has_role_admin(api_client, admin_user):
    body = api_client.post(SIGNIN, {"email": admin_user.email, "password": DEFAULT_PASSWORD}).json()

    assert body["user"]["role"] == "ADMIN"
    assert AccessToken(body["access"])["role"] == "ADMIN"
    assert RefreshToken(body["refresh"])["role"] == "ADMIN"


def test_signin_records_a_login_event_and_last_login(api_client, customer):
    assert customer.last_login is None

    response = api_client.post(
        SIGNIN, {"email": customer.email, "password": DEFAULT_PASSWORD}, HTTP_USER_AGENT="pytest-browser/1.0"
    )

    assert response.status_code == 200
    event = LoginEvent.objects.get(user=customer)
    assert event.method == LoginEvent.Method.PASSWORD
    assert event.ip == "127.0.0.1"
    assert event.user_agent == "pytest-browser/1.0"
    customer.refresh_from_db()
    assert customer.last_login is not None
    assert customer.last_login == event.occurred_at


def test_wrong_password_and_unknown_address_answer_identically(api_client, customer):
    wrong_password = api_client.post(SIGNIN, {"email": customer.email, "password": "Not-The-Password-1"})
    unknown_address = api_client.post(SIGNIN, {"email": "nobody@example.com", "password": "Not-The-Password-1"})

    assert_error(wrong_password, 401, "invalid_credentials")
    assert_error(unknown_address, 401, "invalid_credentials")
    assert wrong_password.json() == unknown_address.json()
    assert not LoginEvent.objects.exists()
    customer.refresh_from_db()
    assert customer.last_login is None


def test_unknown_address_runs_the_password_hasher_too(api_client, settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingScryptHasher"]
    user = UserFactory(email="hashed@example.com")
    assert user.password.startswith("scrypt$")

    CountingScryptHasher.calls = 0
    wrong_password = api_client.post(SIGNIN, {"email": "hashed@example.com", "password": "Not-The-Password-1"})
    hashed_for_wrong_password = CountingScryptHasher.calls

    CountingScryptHasher.calls = 0
    unknown_address = api_client.post(SIGNIN, {"email": "nobody@example.com", "password": "Not-The-Password-1"})
    hashed_for_unknown_address = CountingScryptHasher.calls

    assert wrong_password.status_code == unknown_address.status_code == 401
    assert hashed_for_wrong_password >= 1
    assert hashed_for_unknown_address >= 1


def test_inactive_user_cannot_sign_in(api_client):
    UserFactory(email="gone@example.com", is_active=False)

    response = api_client.post(SIGNIN, {"email": "gone@example.com", "password": DEFAULT_PASSWORD})

    assert_error(response, 401, "invalid_credentials")
    assert not LoginEvent.objects.exists()


def test_signin_with_missing_or_malformed_fields_is_a_validation_error(api_client):
    missing_password = api_client.post(SIGNIN, {"email": "asha@example.com"})
    bad_email = api_client.post(SIGNIN, {"email": "not-an-address", "password": "x"})
    too_long = api_client.post(SIGNIN, {"email": "asha@example.com", "password": "x" * 129})

    assert "password" in assert_error(missing_password, 400, "validation_error")["details"]
    assert "email" in assert_error(bad_email, 400, "validation_error")["details"]
    assert "password" in assert_error(too_long, 400, "validation_error")["details"]


def test_signin_route_does_not_answer_get(api_client):
    assert_error(api_client.get(SIGNIN), 405, "method_not_allowed")


# --- Failure throttle -------------------------------------------------------------------------


def test_failed_signins_throttle_the_address_even_for_the_right_password(api_client, customer, monkeypatch):
    _throttle_rates(monkeypatch, signin_failure_email="3/h", signin_failure_ip="100/h")
    for _ in range(3):
        assert_error(
            api_client.post(SIGNIN, {"email": customer.email, "password": "Wrong-Guess-1"}), 401, "invalid_credentials"
        )

    response = api_client.post(SIGNIN, {"email": customer.email.upper(), "password": DEFAULT_PASSWORD})

    body = assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert body["details"]["retry_after"] == int(response["Retry-After"])
    assert not LoginEvent.objects.exists()
    other = UserFactory(email="other@example.com")
    assert api_client.post(SIGNIN, {"email": other.email, "password": DEFAULT_PASSWORD}).status_code == 200


def test_a_strangers_wrong_guesses_do_not_lock_the_owner_out(api_client, customer, monkeypatch):
    _throttle_rates(monkeypatch, signin_failure_email_ip="3/h", signin_failure_email="100/h", signin_failure_ip="100/h")
    stranger = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(3):
        assert_error(
            api_client.post(SIGNIN, {"email": customer.email, "password": "Wrong-Guess-1"}, **stranger),
            401,
            "invalid_credentials",
        )

    strangers_fourth = api_client.post(SIGNIN, {"email": customer.email, "password": DEFAULT_PASSWORD}, **stranger)
    owner = api_client.post(SIGNIN, {"email": customer.email, "password": DEFAULT_PASSWORD})

    assert_error(strangers_fourth, 429, "throttled")
    assert owner.status_code == 200, owner.json()


def test_guesses_spread_over_many_ips_meet_the_per_address_cap(api_client, customer, monkeypatch):
    _throttle_rates(monkeypatch, signin_failure_email_ip="3/h", signin_failure_email="4/h", signin_failure_ip="100/h")
    for n in range(4):
        wrong = {"email": customer.email, "password": "Wrong-Guess-1"}
        assert_error(api_client.post(SIGNIN, wrong, REMOTE_ADDR=f"203.0.113.{n}"), 401, "invalid_credentials")

    response = api_client.post(SIGNIN, {"email": customer.email, "password": DEFAULT_PASSWORD})

    assert_error(response, 429, "throttled")


def test_a_database_failure_during_signin_is_not_counted_as_a_guess(customer, monkeypatch):
    _throttle_rates(monkeypatch, signin_failure_email_ip="2/h", signin_failure_email="2/h", signin_failure_ip="2/h")
    client = APIClient(raise_request_exception=False)

    def database_down(execute, sql, params, many, context):
        raise OperationalError("connection to server at 127.0.0.1 failed: server closed the connection")

    with connection.execute_wrapper(database_down):
        failed = [client.post(SIGNIN, {"email": customer.email, "password": DEFAULT_PASSWORD}) for _ in range(3)]
    response = client.post(SIGNIN, {"email": customer.email, "password": DEFAULT_PASSWORD})

    assert all(r.status_code >= 500 for r in failed)
    assert response.status_code == 200, response.json()


def test_successful_signins_are_never_throttled(api_client, customer, monkeypatch):
    _throttle_rates(monkeypatch, signin_failure_email="3/h", signin_failure_ip="3/h")

    statuses = [
        api_client.post(SIGNIN, {"email": customer.email, "password": DEFAULT_PASSWORD}).status_code for _ in range(5)
    ]

    assert statuses == [200] * 5
    assert LoginEvent.objects.filter(user=customer).count() == 5


def test_failure_throttle_per_ip_spans_addresses(api_client, customer, monkeypatch):
    _throttle_rates(monkeypatch, signin_failure_email="100/h", signin_failure_ip="3/h")
    for n in range(3):
        assert_error(
            api_client.post(SIGNIN, {"email": f"guess{n}@example.com", "password": "Wrong-Guess-1"}),
            401,
            "invalid_credentials",
        )

    from_same_ip = api_client.post(SIGNIN, {"email": customer.email, "password": DEFAULT_PASSWORD})
    from_other_ip = api_client.post(
        SIGNIN, {"email": customer.email, "password": DEFAULT_PASSWORD}, REMOTE_ADDR="10.1.2.3"
    )

    assert_error(from_same_ip, 429, "throttled")
    assert from_same_ip.has_header("Retry-After")
    assert from_other_ip.status_code == 200, from_other_ip.json()
    assert list(LoginEvent.objects.values_list("ip", flat=True)) == ["10.1.2.3"]


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_guesses_cannot_slip_past_the_failure_limit(monkeypatch):
    _throttle_rates(monkeypatch, signin_failure_email="3/h", signin_failure_ip="100/h")
    user = UserFactory(email="target@example.com")
    guesses = 8
    barrier = threading.Barrier(guesses)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            response = APIClient().post(SIGNIN, {"email": user.email, "password": f"Wrong-Guess-{n}"})
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Each attempt takes its slot atomically before the password is checked: exactly three
    # guesses are tried, however many arrive at once.
    assert sorted(statuses) == [401] * 3 + [429] * (guesses - 3)


# --- Refresh ----------------------------------------------------------------------------------


def test_refresh_rotates_and_blacklists_the_old_token(api_client, customer):
    old = session_start(user=customer)

    response = api_client.post(REFRESH, {"refresh": old.refresh})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] != old.refresh
    assert AccessToken(body["access"])["role"] == "USER"
    assert BlacklistedToken.objects.filter(token__jti=RefreshToken(old.refresh, verify=False)["jti"]).exists()
    again = api_client.post(REFRESH, {"refresh": body["refresh"]})
    assert again.status_code == 200, again.json()


def test_reuse_of_a_rotated_refresh_token_revokes_its_whole_family(api_client, customer):
    stolen = session_start(user=customer)
    other_device = session_start(user=customer)
    rotated = api_client.post(REFRESH, {"refresh": stolen.refresh}).json()

    reuse = api_client.post(REFRESH, {"refresh": stolen.refresh})

    assert_error(reuse, 401, "token_not_valid")
    assert_error(api_client.post(REFRESH, {"refresh": rotated["refresh"]}), 401, "token_not_valid")
    assert BlacklistedToken.objects.filter(token__jti=RefreshToken(rotated["refresh"], verify=False)["jti"]).exists()
    for access in (stolen.access, rotated["access"]):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        assert_error(api_client.get(ME), 401, "token_not_valid")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other_device.access}")
    assert api_client.get(ME).status_code == 200
    api_client.credentials()
    assert api_client.post(REFRESH, {"refresh": other_device.refresh}).status_code == 200


def test_refresh_of_a_deactivated_user_is_refused(api_client, customer):
    session = session_start(user=customer)
    User.objects.filter(pk=customer.pk).update(is_active=False)

    response = api_client.post(REFRESH, {"refresh": session.refresh})

    assert_error(response, 401, "token_not_valid")
    assert OutstandingToken.objects.filter(user=customer).count() == 1  # no new token was issued


def test_refresh_keeps_a_role_change(api_client, customer):
    session = session_start(user=customer)
    User.objects.filter(pk=customer.pk).update(role="ADMIN")

    response = api_client.post(REFRESH, {"refresh": session.refresh})

    assert response.status_code == 200
    assert AccessToken(response.json()["access"])["role"] == "ADMIN"


def test_access_token_is_not_a_refresh_token(api_client, customer):
    session = session_start(user=customer)

    response = api_client.post(REFRESH, {"refresh": session.access})

    assert_error(response, 401, "token_not_valid")


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda refresh: "garbage", id="garbage"),
        pytest.param(lambda refresh: refresh[:-12], id="truncated"),
        pytest.param(lambda refresh: _forged(refresh, user_id="999999"), id="forged-user"),
        pytest.param(lambda refresh: _forged(refresh, role="ADMIN"), id="forged-role"),
    ],
)
def test_malformed_or_tampered_refresh_is_refused(api_client, customer, make_token):
    session = session_start(user=customer)

    response = api_client.post(REFRESH, {"refresh": make_token(session.refresh)})

    assert_error(response, 401, "token_not_valid")
    assert not BlacklistedToken.objects.exists()


def test_refresh_without_the_field_is_a_validation_error(api_client):
    response = api_client.post(REFRESH, {})

    assert "refresh" in assert_error(response, 400, "validation_error")["details"]


def test_expired_refresh_is_refused(api_client, customer):
    token = RefreshToken.for_user(customer)
    token.set_exp(lifetime=timedelta(seconds=-1))

    response = api_client.post(REFRESH, {"refresh": str(token)})

    assert_error(response, 401, "token_not_valid")


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_token_succeed_exactly_once():
    user = UserFactory(email="racer@example.com")
    refresh = session_start(user=user).refresh
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    statuses: list[int] = []
    codes: list[str] = []
    lock = threading.Lock()

    def refresh_once() -> None:
        try:
            client = APIClient()
            barrier.wait(timeout=10)
            response = client.post(REFRESH, {"refresh": refresh})
            with lock:
                statuses.append(response.status_code)
                if response.status_code != 200:
                    codes.append(response.json()["code"])
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh_once) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [200] + [401] * (threads_count - 1)
    assert codes == ["token_not_valid"] * (threads_count - 1)
    # The original token plus exactly one rotated successor, each blacklisted once: the
    # original by the rotation, the successor when the original came back (a reuse).
    assert OutstandingToken.objects.filter(user=user).count() == 2
    assert BlacklistedToken.objects.filter(token__user=user).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_signout_racing_refreshes_of_its_session_leaves_no_live_token():
    user = UserFactory(email="racer@example.com")
    session = session_start(user=user)

    def act(n: int):
        client = APIClient()
        if n == 0:
            return client.post(SIGNOUT, {"refresh": session.refresh})
        return client.post(REFRESH, {"refresh": session.refresh})

    responses = run_concurrently(5, act)

    assert responses[0].status_code == 204
    # Whichever came first, the family is revoked and every token it issued is dead.
    issued = [r.json() for r in responses[1:] if r.status_code == 200]
    assert len(issued) <= 1
    client = APIClient()
    for tokens in issued:
        assert_error(client.post(REFRESH, {"refresh": tokens["refresh"]}), 401, "token_not_valid")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        assert_error(client.get(ME), 401, "token_not_valid")
        client.credentials()
    assert not TokenFamily.objects.filter(user=user, revoked_at__isnull=True).exists()


# --- Sign-out ---------------------------------------------------------------------------------


def test_signout_blacklists_the_refresh_token(api_client, customer):
    session = session_start(user=customer)

    response = api_client.post(SIGNOUT, {"refresh": session.refresh})

    assert response.status_code == 204
    assert BlacklistedToken.objects.filter(token__user=customer).count() == 1
    assert_error(api_client.post(REFRESH, {"refresh": session.refresh}), 401, "token_not_valid")


def test_signout_ends_that_sessions_access_tokens_and_no_others(api_client, customer):
    leaving = session_start(user=customer)
    staying = session_start(user=customer)
    rotated = api_client.post(REFRESH, {"refresh": leaving.refresh}).json()

    assert api_client.post(SIGNOUT, {"refresh": rotated["refresh"]}).status_code == 204

    for access in (leaving.access, rotated["access"]):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        assert_error(api_client.get(ME), 401, "token_not_valid")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {staying.access}")
    assert api_client.get(ME).status_code == 200


def test_checking_the_session_costs_no_extra_query(api_client, customer, django_assert_max_num_queries):
    session = session_start(user=customer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.access}")

    with django_assert_max_num_queries(1):
        response = api_client.get(ME)

    assert response.status_code == 200


def test_a_role_change_or_deactivation_ends_every_session(api_client, admin_client, customer):
    session = session_start(user=customer)

    changed = admin_client.patch(f"/api/v1/users/{customer.pk}/", {"role": "ADMIN"}, format="json")

    assert changed.status_code == 200, changed.json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.access}")
    assert_error(api_client.get(ME), 401, "token_not_valid")
    api_client.credentials()
    assert_error(api_client.post(REFRESH, {"refresh": session.refresh}), 401, "token_not_valid")
    fresh = session_start(user=User.objects.get(pk=customer.pk))
    admin_client.patch(f"/api/v1/users/{customer.pk}/", {"is_active": False}, format="json")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {fresh.access}")
    assert api_client.get(ME).status_code == 401


def test_signing_out_twice_is_harmless(api_client, customer):
    session = session_start(user=customer)

    first = api_client.post(SIGNOUT, {"refresh": session.refresh})
    second = api_client.post(SIGNOUT, {"refresh": session.refresh})

    assert first.status_code == second.status_code == 204
    assert BlacklistedToken.objects.filter(token__user=customer).count() == 1


def test_signout_with_an_access_token_is_refused(api_client, customer):
    session = session_start(user=customer)

    response = api_client.post(SIGNOUT, {"refresh": session.access})

    assert_error(response, 401, "token_not_valid")
    assert not BlacklistedToken.objects.exists()
    assert api_client.post(REFRESH, {"refresh": session.refresh}).status_code == 200


def test_signout_with_garbage_is_refused(api_client):
    garbage = api_client.post(SIGNOUT, {"refresh": "garbage"})
    empty = api_client.post(SIGNOUT, {"refresh": ""})

    assert_error(garbage, 401, "token_not_valid")
    assert "refresh" in assert_error(empty, 400, "validation_error")["details"]


# --- Sign-in bodies -------------------------------------------------------------------------------


def test_json_nested_deeper_than_the_recursion_limit_is_a_parse_error(api_client):
    response = api_client.post("/api/v1/auth/signin", "[" * 200_000, content_type="application/json")

    assert_error(response, 400, "parse_error")
