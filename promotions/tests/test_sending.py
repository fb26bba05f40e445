"""Sending a promotion: now, or at its time by the beat; who gets it; what they get."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.tests.factories import CampaignFactory, CouponCodeFactory
from lms.errors import Conflict
from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus
from promotions.models import Promotion, PromotionStatus
from promotions.services import promotion_cancel, promotion_schedule, promotion_send
from promotions.tasks import promotions_send_due_task
from promotions.tests.factories import PromotionFactory, customers, static_segment

pytestmark = pytest.mark.django_db


def _inbox(user) -> list[tuple[str, str, str]]:
    rows = Delivery.objects.filter(recipient=user, channel=Channel.IN_APP).order_by("pk")
    return [(row.status, row.title, row.body) for row in rows]


def test_sending_now_puts_the_promotion_in_each_segment_members_inbox_and_nobody_elses(
    django_capture_on_commit_callbacks,
):
    members, others = customers(3), customers(2)
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20")
    promotion = PromotionFactory(
        title="Hi {{ first_name }}",
        description="Use {{ code }} for {{ promotion_title }}",
        campaign=campaign,
        audience="SEGMENTS",
        segments=[static_segment(members)],
    )

    with django_capture_on_commit_callbacks(execute=True):
        sent = promotion_send(promotion_id=promotion.pk)

    assert sent.status == PromotionStatus.SENDING
    message = Message.objects.get()
    assert (message.key, message.source_type, message.source_id) == (
        f"promotion:{promotion.pk}",
        "promotion",
        str(promotion.pk),
    )
    assert message.audience == {"kind": "segments", "ids": [promotion.segments.get().pk]}
    assert message.context == {"code": "DIWALI20", "promotion_title": "Hi {{ first_name }}"}
    for member in members:
        assert _inbox(member) == [
            (DeliveryStatus.SENT, f"Hi {member.first_name}", "Use DIWALI20 for Hi {{ first_name }}")
        ]
    for other in others:
        assert _inbox(other) == []
    promotion.refresh_from_db()
    assert promotion.message_id == message.pk and promotion.sent_at is not None


def test_an_all_audience_reaches_every_active_customer_but_not_staff(django_capture_on_commit_callbacks, admin_user):
    people = customers(2)
    inactive = customers(1, is_active=False)[0]
    promotion = PromotionFactory(audience="ALL")

    with django_capture_on_commit_callbacks(execute=True):
        promotion_send(promotion_id=promotion.pk)

    assert sorted(Delivery.objects.values_list("recipient_id", flat=True)) == sorted(p.pk for p in people)
    assert _inbox(inactive) == [] and _inbox(admin_user) == []


def test_the_beat_marks_a_fanned_out_promotion_sent(django_capture_on_commit_callbacks):
    customers(1)
    promotion = PromotionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        promotion_send(promotion_id=promotion.pk)
    assert Message.objects.get().status == MessageStatus.DONE

    promotions_send_due_task()

    promotion.refresh_from_db()
    assert promotion.status == PromotionStatus.SENT


def test_a_scheduled_promotion_is_sent_by_the_beat_once_its_time_has_come(django_capture_on_commit_callbacks):
    member = customers(1)[0]
    promotion = PromotionFactory()
    promotion_schedule(promotion_id=promotion.pk, send_at=timezone.now() + dt.timedelta(minutes=5))

    assert promotions_send_due_task() == 0  # not yet
    Promotion.objects.filter(pk=promotion.pk).update(send_at=timezone.now() - dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert promotions_send_due_task() == 1
    promotion.refresh_from_db()
    assert promotion.status == PromotionStatus.SENDING
    assert [status for status, _, _ in _inbox(member)] == [DeliveryStatus.SENT]

    assert promotions_send_due_task() == 0  # once; and now settled
    promotion.refresh_from_db()
    assert promotion.status == PromotionStatus.SENT


def test_a_scheduled_promotion_that_can_no_longer_go_returns_to_draft_with_the_reason():
    customers(1)
    promotion = PromotionFactory(ends_at=timezone.now() + dt.timedelta(hours=1))
    promotion_schedule(promotion_id=promotion.pk, send_at=timezone.now() + dt.timedelta(minutes=5))
    # The window was shortened behind the schedule's back (a direct write), and the time came.
    Promotion.objects.filter(pk=promotion.pk).update(
        send_at=timezone.now() - dt.timedelta(minutes=2), ends_at=timezone.now() - dt.timedelta(minutes=1)
    )

    assert promotions_send_due_task() == 0

    promotion.refresh_from_db()
    assert promotion.status == PromotionStatus.DRAFT
    assert "window has ended" in promotion.send_error
    assert not Message.objects.exists()


def test_a_cancelled_scheduled_promotion_is_not_sent_by_the_beat():
    customers(1)
    promotion = PromotionFactory()
    promotion_schedule(promotion_id=promotion.pk, send_at=timezone.now() + dt.timedelta(minutes=5))
    promotion_cancel(promotion_id=promotion.pk)
    Promotion.objects.filter(pk=promotion.pk).update(send_at=timezone.now() - dt.timedelta(seconds=1))

    assert promotions_send_due_task() == 0
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("status", "code"),
    [(PromotionStatus.CANCELLED, "promotion_cancelled"), (PromotionStatus.SENT, "promotion_already_sent")],
)
def test_sending_a_cancelled_or_sent_promotion_is_a_conflict(status, code, django_capture_on_commit_callbacks):
    customers(1)
    promotion = PromotionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        if status == PromotionStatus.SENT:
            promotion_send(promotion_id=promotion.pk)
            promotions_send_due_task()
        else:
            promotion_cancel(promotion_id=promotion.pk)
    before = Delivery.objects.count()

    with pytest.raises(Conflict) as caught:
        promotion_send(promotion_id=promotion.pk)

    assert caught.value.code == code
    assert Message.objects.count() == (1 if status == PromotionStatus.SENT else 0)
    assert Delivery.objects.count() == before


def test_a_scheduled_promotion_whose_campaign_was_archived_goes_back_to_draft_unsent():
    """Its code was freed: the beat sends nothing rather than every recipient an empty code."""
    customers(1)
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="GONE10", status="INACTIVE")
    promotion = PromotionFactory(campaign=campaign, description="Code: {{ code }}")
    promotion_schedule(promotion_id=promotion.pk, send_at=timezone.now() + dt.timedelta(minutes=5))
    campaign.archived, campaign.archived_at = True, timezone.now()
    campaign.save()
    Promotion.objects.filter(pk=promotion.pk).update(send_at=timezone.now() - dt.timedelta(seconds=1))

    assert promotions_send_due_task.delay().get() == 0

    promotion.refresh_from_db()
    assert promotion.status == PromotionStatus.DRAFT and "archived" in promotion.send_error
    assert not Message.objects.exists()


def test_a_unique_codes_campaign_sends_each_recipient_their_own_code(django_capture_on_commit_callbacks):
    holder, other, without = customers(3)
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE", code="")
    CouponCodeFactory(campaign=campaign, code="HOLDER-OWN", assigned_to=holder, assigned_at=timezone.now())
    CouponCodeFactory(campaign=campaign, code="OTHER-OWN", assigned_to=other, assigned_at=timezone.now())
    promotion = PromotionFactory(title="Yours", description="Use {{ code }}", campaign=campaign)

    with django_capture_on_commit_callbacks(execute=True):
        promotion_send(promotion_id=promotion.pk)

    assert _inbox(holder) == [(DeliveryStatus.SENT, "Yours", "Use HOLDER-OWN")]
    assert _inbox(other) == [(DeliveryStatus.SENT, "Yours", "Use OTHER-OWN")]
    assert _inbox(without) == [(DeliveryStatus.SENT, "Yours", "Use ")]
