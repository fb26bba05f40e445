"""notification_test_send and deliveries_retry: one transactional message now, on each channel."""

import re

import pytest

from lms.errors import Invalid
from notifications.content import Content
from notifications.models import Channel, Delivery, DeliveryStatus, Message, Purpose
from notifications.services.dispatch import deliveries_retry, notification_test_send

pytestmark = pytest.mark.django_db

CONTENT = Content(
    title="Hello {{ first_name }}",
    body="Body for {{ first_name }}",
    cta_text="Shop",
    cta_url="https://shop.example.com/sale",
)


def test_a_test_mail_reaches_the_smtp_server_and_its_delivery_is_sent(admin_user, smtp_server):
    delivery = notification_test_send(channel=Channel.EMAIL, to="qa@example.com", content=CONTENT, by=admin_user)

    assert delivery.status == DeliveryStatus.SENT, delivery.last_error
    assert delivery.address == "qa@example.com" and delivery.attempts == 1
    assert re.fullmatch(rf"<delivery-{delivery.pk}\.[0-9a-f]{{12}}@lms\.example\.com>", delivery.provider_message_id)
    [mail] = smtp_server.messages
    assert mail["To"] == "qa@example.com"
    assert mail["Message-ID"] == delivery.provider_message_id
    assert "List-Unsubscribe" not in mail  # transactional
    assert delivery.message.purpose == Purpose.TRANSACTIONAL and delivery.message.source_type == "test_send"


@pytest.mark.parametrize(
    ("channel", "to", "path"), [("SMS", "+919800000001", "/sms/+919800000001"), ("PUSH", "tok-1", "/push/tok-1")]
)
def test_a_test_sms_or_push_reaches_the_http_receiver_with_an_idempotency_key(
    admin_user, http_receiver, channel, to, path
):
    delivery = notification_test_send(channel=channel, to=to, content=CONTENT, by=admin_user)

    assert delivery.status == DeliveryStatus.SENT, delivery.last_error
    [seen] = http_receiver.requests
    assert seen.path == path
    assert seen.body["title"] == f"Hello {admin_user.first_name}"
    assert seen.headers["Idempotency-Key"] == delivery.provider_message_id
    assert seen.headers["Idempotency-Key"].startswith(f"delivery-{delivery.pk}.")
    assert "/n/c/" in seen.body["message"]  # the tracked CTA link


def test_a_test_in_app_message_lands_in_the_named_inbox(admin_user, customer):
    delivery = notification_test_send(channel=Channel.IN_APP, to=customer.email, content=CONTENT, by=admin_user)

    assert delivery.status == DeliveryStatus.SENT
    assert delivery.recipient == customer
    assert delivery.title == "Hello Asha"


def test_a_placeholder_without_a_value_shows_its_name(admin_user, outbox):
    from notifications import registry

    # A name no app registers (loyalty's "points" is registered for real once loyalty is ready).
    registry.placeholders.register("test_nickname", "A nickname no source fills.")
    try:
        delivery = notification_test_send(
            channel=Channel.SMS, to="+919800000001", content=Content(title="t", body="{{ test_nickname }} hi"),
            by=admin_user,
        )  # fmt: skip
    finally:
        registry.placeholders.unregister("test_nickname")
    assert delivery.status == DeliveryStatus.SENT
    assert outbox[0].body == "[test_nickname] hi"


def test_a_refused_test_send_fails_with_the_reason_and_a_retry_sends_it(
    admin_user, http_receiver, django_capture_on_commit_callbacks
):
    http_receiver.replies.append(400)
    delivery = notification_test_send(channel=Channel.SMS, to="+919800000001", content=CONTENT, by=admin_user)
    assert delivery.status == DeliveryStatus.FAILED
    assert "400" in delivery.last_error

    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_retry(delivery_ids=[delivery.pk]) == 1

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 1  # a retry starts a fresh set of attempts
    assert len(http_receiver.requests) == 2


def test_a_transient_failure_leaves_the_test_send_pending_with_its_error(admin_user, http_receiver):
    http_receiver.replies.append(503)
    delivery = notification_test_send(channel=Channel.PUSH, to="tok", content=CONTENT, by=admin_user)
    assert delivery.status == DeliveryStatus.PENDING
    assert "503" in delivery.last_error and delivery.available_at > delivery.created_at


def test_retry_requeues_only_failed_rows(admin_user, customer):
    sent = notification_test_send(channel=Channel.IN_APP, to=customer.email, content=CONTENT, by=admin_user)
    assert deliveries_retry(delivery_ids=[sent.pk, 999999, 10**30, -1]) == 0
    assert Delivery.objects.get(pk=sent.pk).status == DeliveryStatus.SENT


@pytest.mark.parametrize(
    ("channel", "to", "content", "field"),
    [
        ("FAX", "a@example.com", CONTENT, "channel"),
        ("EMAIL", "not-an-address", CONTENT, "to"),
        ("EMAIL", "", CONTENT, "to"),
        ("SMS", "call me", CONTENT, "to"),
        ("IN_APP", "nobody@example.com", CONTENT, "to"),
        (
            "EMAIL",
            "a@example.com",
            Content(title="t", body="b", cta_text="Go", cta_url="javascript:alert(1)"),
            "content.cta_url",
        ),
        ("EMAIL", "a@example.com", Content(title="t {{", body="b"), "content.title"),
        ("EMAIL", "a@example.com", Content(title="t", body="{{ secret }}"), "content.body"),
        ("EMAIL", "a@example.com", Content(title="t", body="x" * 5001), "content.body"),
        ("EMAIL", "a@example.com", Content(title="t", body="{{ 'x' * 10 ** 9 }}"), "content.body"),
        ("SMS", "+919800000001", Content(title="{{ first_name|center(10 ** 9) }}", body="b"), "content.title"),
        (
            "IN_APP",
            "a@example.com",
            Content(title="t", body="{% for i in range(10 ** 5) %}x{% endfor %}"),
            "content.body",
        ),
    ],
)
def test_a_test_send_that_could_not_work_is_refused_naming_the_field(admin_user, channel, to, content, field):
    with pytest.raises(Invalid) as caught:
        notification_test_send(channel=channel, to=to, content=content, by=admin_user)
    assert field in caught.value.details
    assert not Message.objects.exists()


@pytest.mark.parametrize("ids", [["x"], [None], 5, [1.5e400]])
def test_retry_with_ids_that_are_not_integers_is_refused_naming_the_field(ids):
    with pytest.raises(Invalid) as caught:
        deliveries_retry(delivery_ids=ids)
    assert "delivery_ids" in caught.value.details


@pytest.mark.django_db(transaction=True)
def test_test_sends_at_once_each_send_exactly_one_message(outbox):
    from accounts.tests.factories import UserFactory
    from lms.testing import run_concurrently

    admin = UserFactory(role="ADMIN")
    numbers = [f"+91980000000{i}" for i in range(4)]

    results = run_concurrently(
        4, lambda i: notification_test_send(channel=Channel.SMS, to=numbers[i], content=CONTENT, by=admin)
    )

    assert all(isinstance(row, Delivery) and row.status == DeliveryStatus.SENT for row in results), results
    assert sorted(message.to for message in outbox) == numbers
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 4
