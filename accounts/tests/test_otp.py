"""Email OTP: POST /api/v1/auth/otp/send and /api/v1/auth/otp/verify."""

import re
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import EmailOTP
from accounts.services import email_token_read
from lms.testing import assert_error, run_concurrently

SEND = "/api/v1/auth/otp/send"
VERIFY = "/api/v1/auth/otp/verify"
SIX_DIGITS = re.compile(r"\b(\d{6})\b")


def code_in(message) -> str:
    match = SIX_DIGITS.search(message.body)
    assert match, message.body
    return match.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def set_rates(monkeypatch, **rates: str) -> None:
    # DRF reads the rates into a class attribute at import time; settings overrides miss it.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **rates})


@pytest.fixture
def send_code(api_client, mailoutbox, django_capture_on_commit_callbacks):
    """``send_code(email, **request_extra)``: POST a send, answer the mailed code."""

    def send(email: str, **extra) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = api_client.post(SEND, {"email": email}, format="json", **extra)
        assert response.status_code == 202, response.json()
        return code_in(mailoutbox[-1])

    return send


# --- send -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_send_stores_only_a_keyed_hash_and_mails_the_code(api_client, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(SEND, {"email": "Asha@Example.COM"}, format="json", REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 202, response.json()
    assert set(response.json()) == {"detail", "expires_in"}
    assert response.json()["expires_in"] == int(settings.OTP_TTL.total_seconds())

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["asha@example.com"]
    code = code_in(message)
    assert len(message.alternatives) == 1
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert code in html

    otp = EmailOTP.objects.get()
    assert otp.email == "asha@example.com"
    assert otp.requested_ip == "10.1.2.3"
    assert otp.sent_at is not None
    assert otp.attempts == 0 and otp.consumed_at is None and otp.superseded_at is None
    assert otp.expires_at == otp.created_at + settings.OTP_TTL
    assert len(otp.code_hash) == 64
    row_values = [str(value) for value in EmailOTP.objects.values().get().values()]
    assert not any(code in value for value in row_values)


@pytest.mark.django_db
def test_seed_routes_send_and_verify_a_code(api_client, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sent = api_client.post("/user/send-otp", {"email": "asha@example.com"}, format="json")
    assert sent.status_code == 202, sent.json()

    verified = api_client.post(
        "/user/verify-otp", {"email": "asha@example.com", "otp": code_in(mailoutbox[0])}, format="json"
    )

    assert verified.status_code == 200, verified.json()
    assert email_token_read(token=verified.json()["token"]) == "asha@example.com"


# --- verify -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_right_code_answers_a_token_that_proves_the_address(api_client, send_code):
    code = send_code("asha@example.com")

    response = api_client.post(VERIFY, {"email": "ASHA@example.com", "otp": code}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"token", "expires_in"}
    assert body["expires_in"] == int(settings.EMAIL_VERIFICATION_TOKEN_TTL.total_seconds())
    assert email_token_read(token=body["token"]) == "asha@example.com"
    otp = EmailOTP.objects.get()
    assert otp.consumed_at is not None
    assert otp.attempts == 0


@pytest.mark.django_db
def test_code_is_single_use(api_client, send_code):
    code = send_code("asha@example.com")
    first = api_client.post(VERIFY, {"email": "asha@example.com", "otp": code}, format="json")
    assert first.status_code == 200

    second = api_client.post(VERIFY, {"email": "asha@example.com", "otp": code}, format="json")

    assert second.status_code == 400
    assert second.json()["code"] == "otp_invalid"
    assert set(second.json()) == {"code", "message", "details"}


@pytest.mark.django_db
def test_expired_code_is_refused(api_client, send_code):
    code = send_code("asha@example.com")
    EmailOTP.objects.filter(email="asha@example.com").update(expires_at=timezone.now() - timedelta(seconds=1))

    response = api_client.post(VERIFY, {"email": "asha@example.com", "otp": code}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "otp_expired"
    assert EmailOTP.objects.get().consumed_at is None


@pytest.mark.django_db
def test_code_without_a_pending_send_is_refused(api_client):
    response = api_client.post(VERIFY, {"email": "nobody@example.com", "otp": "123456"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "otp_invalid"


@pytest.mark.django_db
def test_code_for_another_address_is_refused(api_client, send_code):
    code = send_code("asha@example.com")
    send_code("bob@example.com")

    response = api_client.post(VERIFY, {"email": "bob@example.com", "otp": code}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "otp_invalid"
    assert EmailOTP.objects.get(email="asha@example.com").attempts == 0


@pytest.mark.django_db
def test_wrong_codes_count_down_then_kill_the_code(api_client, send_code):
    code = send_code("asha@example.com")
    assert settings.OTP_MAX_ATTEMPTS == 5

    answers = [
        api_client.post(VERIFY, {"email": "asha@example.com", "otp": wrong(code)}, format="json")
        for _ in range(settings.OTP_MAX_ATTEMPTS)
    ]

    assert [a.status_code for a in answers] == [400] * 5
    assert [a.json()["code"] for a in answers[:4]] == ["otp_invalid"] * 4
    assert [a.json()["details"]["attempts_left"] for a in answers[:4]] == [4, 3, 2, 1]
    assert answers[4].json()["code"] == "otp_attempts_exceeded"

    right = api_client.post(VERIFY, {"email": "asha@example.com", "otp": code}, format="json")

    assert right.status_code == 400
    assert right.json()["code"] == "otp_attempts_exceeded"
    otp = EmailOTP.objects.get()
    assert otp.attempts == 5
    assert otp.consumed_at is None


@pytest.mark.django_db
def test_new_send_supersedes_the_previous_code(api_client, send_code):
    old_code = send_code("asha@example.com")
    new_code = send_code("asha@example.com")
    if new_code == old_code:  # one chance in a million
        pytest.skip("the two random codes collided")

    old = api_client.post(VERIFY, {"email": "asha@example.com", "otp": old_code}, format="json")
    new = api_client.post(VERIFY, {"email": "asha@example.com", "otp": new_code}, format="json")

    assert old.status_code == 400
    assert old.json()["code"] == "otp_invalid"
    assert new.status_code == 200, new.json()
    rows = EmailOTP.objects.order_by("created_at", "pk")
    assert rows.count() == 2
    assert rows[0].superseded_at is not None and rows[0].consumed_at is None
    assert rows[1].superseded_at is None and rows[1].consumed_at is not None


# --- throttles --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sends_per_address_are_throttled(api_client, send_code, monkeypatch, mailoutbox):
    set_rates(monkeypatch, otp_send_email="2/h")
    send_code("asha@example.com", REMOTE_ADDR="10.0.0.1")
    send_code("asha@example.com", REMOTE_ADDR="10.0.0.2")

    # Another spelling of the same address, from a third IP: still the same address.
    third = api_client.post(SEND, {"email": " ASHA@example.com"}, format="json", REMOTE_ADDR="10.0.0.3")

    assert third.status_code == 429
    assert third.json()["code"] == "throttled"
    retry_after = third.json()["details"]["retry_after"]
    assert isinstance(retry_after, int) and 0 < retry_after <= 3600
    assert int(third["Retry-After"]) == retry_after
    assert EmailOTP.objects.filter(email="asha@example.com").count() == 2
    assert len(mailoutbox) == 2

    other = api_client.post(SEND, {"email": "bob@example.com"}, format="json", REMOTE_ADDR="10.0.0.4")
    assert other.status_code == 202


@pytest.mark.django_db
def test_sends_per_ip_are_throttled(api_client, send_code, monkeypatch):
    set_rates(monkeypatch, otp_send_ip="3/h")
    for n in range(3):
        send_code(f"person{n}@example.com", REMOTE_ADDR="10.0.0.1")

    fourth = api_client.post(SEND, {"email": "person3@example.com"}, format="json", REMOTE_ADDR="10.0.0.1")

    assert fourth.status_code == 429
    assert fourth.json()["code"] == "throttled"
    assert fourth.json()["details"]["retry_after"] > 0
    assert "Retry-After" in fourth
    assert not EmailOTP.objects.filter(email="person3@example.com").exists()

    elsewhere = api_client.post(SEND, {"email": "person4@example.com"}, format="json", REMOTE_ADDR="10.0.0.2")
    assert elsewhere.status_code == 202


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "email"),
        ({"email": ""}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": 12345}, "email"),
        ({"email": ["asha@example.com"]}, "email"),
        ({"email": {"address": "asha@example.com"}}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ([{"email": "asha@example.com"}], "non_field_errors"),
    ],
)
def test_send_rejects_bad_input(api_client, body, field):
    response = api_client.post(SEND, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["details"]
    assert not EmailOTP.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "asha@example.com"}, "otp"),
        ({"otp": "123456"}, "email"),
        ({"email": "asha@example.com", "otp": "12a456"}, "otp"),
        ({"email": "asha@example.com", "otp": "12345"}, "otp"),
        ({"email": "asha@example.com", "otp": "1234567"}, "otp"),
        ({"email": "asha@example.com", "otp": ""}, "otp"),
        ({"email": "asha@example.com", "otp": ["123456"]}, "otp"),
        ({"email": "bad-address", "otp": "123456"}, "email"),
        ({"email": 42, "otp": "123456"}, "email"),
        ({"email": ["asha@example.com"], "otp": "123456"}, "email"),
        ([{"email": "asha@example.com", "otp": "123456"}], "non_field_errors"),
    ],
)
def test_verify_rejects_bad_input_without_spending_an_attempt(api_client, send_code, body, field):
    send_code("asha@example.com")

    response = api_client.post(VERIFY, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["details"]
    assert EmailOTP.objects.get().attempts == 0


@pytest.mark.django_db
def test_malformed_json_is_a_400_not_a_500(api_client):
    response = api_client.post(SEND, '{"email": ', content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "details"}


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_correct_code_is_accepted_once_under_concurrent_verifies(send_code):
    code = send_code("asha@example.com")

    def verify(_):
        response = APIClient().post(VERIFY, {"email": "asha@example.com", "otp": code}, format="json")
        return response.status_code, response.json()

    results = run_concurrently(8, verify)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [400] * 7
    assert {body["code"] for status, body in results if status == 400} == {"otp_invalid"}
    otp = EmailOTP.objects.get()
    assert otp.consumed_at is not None
    assert otp.attempts == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_codes_never_count_past_the_limit(send_code):
    code = send_code("asha@example.com")

    def verify(_):
        response = APIClient().post(VERIFY, {"email": "asha@example.com", "otp": wrong(code)}, format="json")
        return response.status_code, response.json()

    results = run_concurrently(10, verify)

    assert [status for status, _ in results] == [400] * 10
    invalid = [body for _, body in results if body["code"] == "otp_invalid"]
    exceeded = [body for _, body in results if body["code"] == "otp_attempts_exceeded"]
    assert len(invalid) + len(exceeded) == 10
    # Serialised by the row lock: each count from 4 down to 1 is reported exactly once.
    assert sorted(body["details"]["attempts_left"] for body in invalid) == [1, 2, 3, 4]
    otp = EmailOTP.objects.get()
    assert otp.attempts == 5
    assert otp.consumed_at is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_leave_one_open_code(mailoutbox):
    def send(_):
        response = APIClient().post(SEND, {"email": "asha@example.com"}, format="json")
        return response.status_code

    results = run_concurrently(2, send)

    assert results == [202, 202]
    assert EmailOTP.objects.filter(email="asha@example.com").count() == 2
    open_codes = EmailOTP.objects.filter(email="asha@example.com", consumed_at__isnull=True, superseded_at__isnull=True)
    assert open_codes.count() == 1
    # The open code was mailed; whichever mail carries it verifies.
    assert open_codes.get().sent_at is not None
    assert 1 <= len(mailoutbox) <= 2
    client = APIClient()
    verified = [
        client.post(VERIFY, {"email": "asha@example.com", "otp": code_in(message)}, format="json").status_code
        for message in mailoutbox
    ]
    assert verified.count(200) == 1


# --- Races and odd addresses ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_parallel_otp_sends_cannot_slip_past_the_per_address_limit(monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "otp_send_email": "3/h"}
    )
    senders = 10
    barrier = threading.Barrier(senders)
    statuses: list[int] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            # Each from its own address: only the per-address limit applies.
            response = APIClient().post(
                "/api/v1/auth/otp/send", {"email": "victim@example.com"}, REMOTE_ADDR=f"10.0.0.{n + 1}"
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [202] * 3 + [429] * (senders - 3)
    assert EmailOTP.objects.filter(email="victim@example.com").count() == 3


@pytest.mark.django_db
def test_an_address_that_grows_when_lower_cased_is_refused_not_a_500(api_client):
    # "İ" lower-cases to two characters: a valid 254-character address becomes 255.
    domain = "İ" + "b" * 61 + "." + "c" * 62 + "." + "d" * 60 + ".in"
    email = "a" * 64 + "@" + domain
    assert len(email) == 254 and len(email.lower()) == 255

    response = api_client.post("/api/v1/auth/otp/send", {"email": email})

    assert_error(response, 400, "validation_error")
