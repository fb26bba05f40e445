"""The sweeper (beat, every minute) and dispatchers racing on the same rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from lms.testing import run_concurrently
from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus
from notifications.services.dispatch import deliveries_send, deliveries_sweep
from notifications.services.dispatch import send as dispatch
from notifications.services.messages import message_send
from notifications.tests.factories import PROMO, CustomerFactory


def _message_with_rows(people, channel=Channel.SMS, key="promo:s") -> Message:
    """A message whose rows are written and waiting, as a fan-out leaves them before its send task."""
    message = Message.objects.create(
        key=key, source_type="promotion", title=PROMO.title, body=PROMO.body, channels=[channel],
        audience={"kind": "customers", "ids": [p.pk for p in people]}, status=MessageStatus.DONE,
    )  # fmt: skip
    Delivery.objects.bulk_create(
        Delivery(message=message, recipient=p, channel=channel, context={"first_name": p.first_name}) for p in people
    )
    return message


@pytest.mark.django_db
def test_the_sweeper_takes_over_a_row_whose_worker_died_and_it_is_sent_once(
    settings, outbox, django_capture_on_commit_callbacks
):
    people = [CustomerFactory(), CustomerFactory()]
    _message_with_rows(people)
    # A worker claimed both rows, sent nothing yet, and was killed.
    dead = dispatch._claim(Delivery.objects.all(), limit=2)
    assert {row.status for row in Delivery.objects.all()} == {DeliveryStatus.SENDING}

    assert deliveries_sweep()["taken_over"] == 0  # within the lease: the worker may be alive

    later = timezone.now() + timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        result = deliveries_sweep(now=later)

    assert (result["taken_over"], result["dispatched"]) == (2, 1)
    rows = list(Delivery.objects.order_by("pk"))
    assert [(r.status, r.attempts) for r in rows] == [(DeliveryStatus.SENT, 2)] * 2
    assert sorted(o.to for o in outbox) == sorted(p.phone for p in people)
    # The dead worker's late outcome is not recorded over the new one.
    assert dispatch._finish(dead[0], status=DeliveryStatus.FAILED, last_error="late") is False
    assert Delivery.objects.get(pk=dead[0].pk).status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_a_row_whose_lease_ran_out_on_its_last_attempt_fails(settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 1
    _message_with_rows([CustomerFactory()])
    dispatch._claim(Delivery.objects.all(), limit=1)
    later = timezone.now() + timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS + 1)

    assert deliveries_sweep(now=later)["failed"] == 1
    row = Delivery.objects.get()
    assert row.status == DeliveryStatus.FAILED and "lease" in row.last_error


@pytest.mark.django_db
def test_the_sweeper_restarts_a_fanout_that_stopped(settings, outbox, django_capture_on_commit_callbacks):
    people = [CustomerFactory() for _ in range(3)]
    # Recorded, but its fan-out task was lost (the worker died before the first batch).
    message = message_send(
        key="promo:lost", source_type="promotion", content=PROMO, channels=[Channel.SMS, Channel.IN_APP],
        audience={"kind": "customers", "ids": [p.pk for p in people]},
    )  # fmt: skip
    assert deliveries_sweep()["fanouts_restarted"] == 0  # not stalled yet

    later = timezone.now() + timedelta(seconds=settings.NOTIFICATIONS_FANOUT_STALL_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_sweep(now=later)["fanouts_restarted"] == 1

    message.refresh_from_db()
    assert message.status == MessageStatus.DONE and message.recipients == 3
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 6
    assert len(outbox) == 3
    assert deliveries_sweep(now=later + timedelta(hours=1))["fanouts_restarted"] == 0  # done: left alone


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_on_the_same_batch_send_each_row_once(settings, outbox):
    settings.NOTIFICATIONS_SEND_CHUNK = 7
    people = CustomerFactory.create_batch(120)
    message = _message_with_rows(people)
    first, last = people[0].pk, people[-1].pk

    sent = run_concurrently(
        3, lambda _: deliveries_send(message_id=message.pk, first_recipient=first, last_recipient=last)
    )

    assert sum(sent) == 120
    assert all(count > 0 for count in sent), sent  # they shared the work
    keys = [o.idempotency_key for o in outbox]
    assert len(keys) == 120 and len(set(keys)) == 120
    assert set(Delivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.SENT, 1)}


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweepers_take_over_a_dead_workers_rows_once(settings, outbox):
    people = CustomerFactory.create_batch(30)
    _message_with_rows(people)
    dispatch._claim(Delivery.objects.all(), limit=30)
    later = timezone.now() + timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS + 1)

    results = run_concurrently(3, lambda _: deliveries_sweep(now=later))  # eager: each runs its send tasks

    assert sum(r["taken_over"] for r in results) == 30
    assert len(outbox) == 30 and len({o.to + o.idempotency_key for o in outbox}) == 30
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


@pytest.mark.django_db
def test_a_slow_chunk_gives_back_the_rows_it_could_not_send_within_its_lease(settings, outbox):
    people = [CustomerFactory() for _ in range(3)]
    _message_with_rows(people)
    claimed = dispatch._claim(Delivery.objects.all(), limit=3)
    # The first send took most of the lease (a provider timing out): the rest are given back.
    Delivery.objects.filter(pk__in=[row.pk for row in claimed[1:]]).update(lease_until=timezone.now())
    for row in claimed[1:]:
        row.lease_until = timezone.now()

    assert dispatch._send_claimed(claimed) == 1

    rows = list(Delivery.objects.order_by("pk"))
    assert [(r.status, r.attempts) for r in rows] == [
        (DeliveryStatus.SENT, 1),
        (DeliveryStatus.PENDING, 0),
        (DeliveryStatus.PENDING, 0),
    ]
    assert len(outbox) == 1
