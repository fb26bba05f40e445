"""Abuse and failure cases of the auth flows that the happy-path suites do not reach."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import EmailOTP
from accounts.tasks import password_reset_email_send_task
from accounts.tests.factories import UserFactory
from lms.testing import assert_error


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


@pytest.mark.django_db
def test_an_address_that_grows_when_lower_cased_is_refused_not_a_500(api_client):
    # "İ" lower-cases to two characters: a valid 254-character address becomes 255.
    domain = "İ" + "b" * 61 + "." + "c" * 62 + "." + "d" * 60 + ".in"
    email = "a" * 64 + "@" + domain
    assert len(email) == 254 and len(email.lower()) == 255

    response = api_client.post("/api/v1/auth/otp/send", {"email": email})

    assert_error(response, 400, "validation_error")


def test_json_nested_deeper_than_the_recursion_limit_is_a_parse_error(api_client):
    response = api_client.post("/api/v1/auth/signin", "[" * 200_000, content_type="application/json")

    assert_error(response, 400, "parse_error")
