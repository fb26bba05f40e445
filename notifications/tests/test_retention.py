"""Retention of deliveries: only rows that can never matter again go (lms/retention.py)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from lms.retention import records_prune
from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus
from notifications.services.dispatch import deliveries_sweep
from notifications.services.messages import message_fanout, message_send
from notifications.tests.factories import PROMO, CustomerFactory

pytestmark = pytest.mark.django_db


def _pruned(**kwargs) -> int:
    return {result.name: result.deleted for result in records_prune(**kwargs)}["notifications.deliveries"]


def _age(rows, days: int) -> None:
    at = timezone.now() - timedelta(days=days)
    rows.update(created_at=at, sent_at=at, available_at=at)


def _send(key: str, people, channels=(Channel.EMAIL, Channel.IN_APP)) -> Message:
    return message_send(
        key=key, source_type="promotion", source_id=key.split(":")[-1], content=PROMO, channels=list(channels),
        audience={"kind": "customers", "ids": [p.pk for p in people]},
    )  # fmt: skip


def test_final_deliveries_of_a_finished_message_go_past_their_age_and_stay_within_it(
    settings, django_capture_on_commit_callbacks
):
    settings.RETENTION_DELIVERIES_DAYS = 30
    people = [CustomerFactory(), CustomerFactory()]
    with django_capture_on_commit_callbacks(execute=True):
        old, recent = _send("promotion:1", people), _send("promotion:2", people)
    _age(Delivery.objects.filter(message=old), 31)
    _age(Delivery.objects.filter(message=recent), 29)

    assert _pruned() == 4

    assert not Delivery.objects.filter(message=old).exists()
    assert Delivery.objects.filter(message=recent).count() == 4
    assert Message.objects.filter(pk=old.pk).exists()  # the key that stops a second send stays


@pytest.mark.parametrize(
    ("message_status", "delivery_status"),
    [
        (MessageStatus.FANNING_OUT, DeliveryStatus.SENT),  # the sweeper may restart its fan-out
        (MessageStatus.PENDING, DeliveryStatus.SKIPPED),
        (MessageStatus.DONE, DeliveryStatus.PENDING),  # not sent yet: a retry is due
        (MessageStatus.DONE, DeliveryStatus.SENDING),  # a worker holds it, or the sweeper will
    ],
)
def test_deliveries_that_may_still_send_or_be_restarted_are_kept(settings, message_status, delivery_status):
    settings.RETENTION_DELIVERIES_DAYS = 30
    person = CustomerFactory()
    message = Message.objects.create(
        key="promotion:9", source_type="promotion", title="t", body="b", channels=[Channel.SMS],
        audience={"kind": "customers", "ids": [person.pk]}, status=message_status,
    )  # fmt: skip
    Delivery.objects.create(message=message, recipient=person, channel=Channel.SMS, status=delivery_status)
    _age(Delivery.objects.all(), 365)

    assert _pruned() == 0

    assert Delivery.objects.count() == 1


def test_a_pruned_promotion_never_sends_twice_to_the_same_customer(settings, django_capture_on_commit_callbacks):
    settings.RETENTION_DELIVERIES_DAYS = 30
    people = [CustomerFactory(), CustomerFactory()]
    with django_capture_on_commit_callbacks(execute=True):
        message = _send("promotion:7", people, channels=[Channel.EMAIL])
    assert len(mail.outbox) == 2
    _age(Delivery.objects.all(), 31)
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert _pruned() == 2

    # Every way a send is retried or re-run: the trigger again, the fan-out task again, beat's sweeper.
    with django_capture_on_commit_callbacks(execute=True):
        again = _send("promotion:7", people, channels=[Channel.EMAIL])
        message_fanout(message_id=message.pk)
        deliveries_sweep(now=timezone.now() + timedelta(days=1))

    assert again.pk == message.pk
    assert len(mail.outbox) == 2
    assert not Delivery.objects.exists()


def test_the_daily_cap_still_counts_yesterdays_sends(settings):
    settings.RETENTION_DELIVERIES_DAYS = 1  # below the minimum: the cap counts the last day's sends

    with pytest.raises(ImproperlyConfigured, match="RETENTION_DELIVERIES_DAYS=1 is below its minimum of 2 days"):
        records_prune()
