"""Races on PostgreSQL with real threads: a send and a cancel, a send and a delete, two sends, two beats."""

import datetime as dt

import pytest
from django.utils import timezone

from lms.errors import Conflict, DomainError
from lms.testing import run_concurrently
from notifications.models import Delivery, Message
from promotions.models import Promotion, PromotionStatus
from promotions.services import (
    promotion_cancel,
    promotion_delete,
    promotion_schedule,
    promotion_send,
    promotions_send_due,
)
from promotions.tests.factories import PromotionFactory, customers

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 5


RACERS = (promotion_send, promotion_cancel)


def _attempt(service, promotion_id: int) -> str:
    try:
        service(promotion_id=promotion_id)
    except (Conflict, DomainError) as error:
        return error.code
    return "ok"


def test_a_send_and_a_cancel_racing_never_both_win():
    customers(2)
    for _ in range(ROUNDS):
        promotion = PromotionFactory()
        promotion_schedule(promotion_id=promotion.pk, send_at=timezone.now() + dt.timedelta(hours=1))
        send, cancel = run_concurrently(2, lambda i, pk=promotion.pk: _attempt(RACERS[i], pk))

        promotion.refresh_from_db()
        messages = Message.objects.filter(key=f"promotion:{promotion.pk}")
        if send == "ok":
            assert cancel == "promotion_already_sent"
            assert promotion.status in (PromotionStatus.SENDING, PromotionStatus.SENT) and messages.count() == 1
        else:
            assert (send, cancel) == ("promotion_cancelled", "ok")
            assert promotion.status == PromotionStatus.CANCELLED and not messages.exists()


def test_a_send_and_a_delete_racing_either_erase_a_draft_or_archive_what_went_out():
    members = customers(2)
    for _ in range(ROUNDS):
        promotion = PromotionFactory()
        send, delete = run_concurrently(
            2, lambda i, pk=promotion.pk: _attempt((promotion_send, promotion_delete)[i], pk)
        )

        messages = Message.objects.filter(key=f"promotion:{promotion.pk}")
        left = Promotion.objects.filter(pk=promotion.pk).first()
        if left is None:  # the delete came first: a draft erased, nothing sent
            assert (send, delete) == ("not_found", "ok") and not messages.exists()
        else:  # the send came first: archived, its one message and deliveries kept
            assert (send, delete) == ("ok", "ok")
            assert left.archived and left.status in (PromotionStatus.SENDING, PromotionStatus.SENT)
            assert messages.count() == 1 and Delivery.objects.filter(message=messages.get()).count() == len(members)


def test_two_sends_racing_send_once():
    members = customers(3)
    promotion = PromotionFactory()

    results = run_concurrently(4, lambda i: _attempt(promotion_send, promotion.pk))

    assert sorted(results) == ["ok", "promotion_already_sent", "promotion_already_sent", "promotion_already_sent"]
    assert Message.objects.count() == 1
    assert Delivery.objects.count() == len(members)


def test_two_beats_racing_send_each_due_promotion_once():
    customers(1)
    due = [PromotionFactory() for _ in range(6)]
    for promotion in due:
        promotion_schedule(promotion_id=promotion.pk, send_at=timezone.now() + dt.timedelta(minutes=1))
    Promotion.objects.update(send_at=timezone.now() - dt.timedelta(seconds=1))

    results = run_concurrently(3, lambda i: promotions_send_due())

    assert sum(results) == len(due)
    assert Message.objects.count() == len(due)
    assert not Promotion.objects.filter(status=PromotionStatus.SCHEDULED).exists()
