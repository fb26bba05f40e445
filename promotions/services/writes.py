"""Promotion writes (lock order in ``promotions.services``)."""

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from campaigns.models import Campaign
from lms.errors import Conflict, DomainError, NotFound
from notifications.models import MessageStatus, Purpose
from notifications.services.messages import message_send
from promotions.models import EDITABLE, WENT_OUT, Promotion, PromotionAudience, PromotionStatus
from promotions.selectors import campaign_code
from promotions.services.checks import (
    CONTENT_FIELD_NAMES,
    SOURCE_TYPE,
    UNSET,
    invalid,
    promotion_check,
    promotion_content,
    promotion_content_check,
)
from segments.models import Segment
from segments.services import SegmentUse

logger = logging.getLogger("promotions.services")


def _locked(promotion_id: int) -> Promotion:
    promotion = Promotion.objects.select_for_update().filter(pk=promotion_id).first()
    if promotion is None:
        raise NotFound("not_found", f"No promotion {promotion_id}.")
    return promotion


def _editable(promotion: Promotion, doing: str) -> None:
    if promotion.archived or promotion.status not in EDITABLE:
        label = "archived" if promotion.archived else promotion.get_status_display().lower()
        raise Conflict(
            f"promotion_{'archived' if promotion.archived else promotion.status.lower()}",
            f"A {label} promotion cannot be {doing}; only drafts and scheduled ones can.",
            status=promotion.status,
        )


@transaction.atomic
def promotion_create(
    *,
    title: str,
    description: str = "",
    image_url: str = "",
    cta_text: str = "",
    cta_url: str = "",
    campaign_id: int | None = None,
    audience: str = PromotionAudience.ALL,
    segment_ids: Sequence[int] = (),
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    channels: Sequence[str] = (),
    created_by: User | None = None,
) -> Promotion:
    """A DRAFT promotion, checked whole (content as it would be sent, audience, window, campaign)."""
    fields = {
        "title": title, "description": description, "image_url": image_url, "cta_text": cta_text,
        "cta_url": cta_url, "campaign_id": campaign_id, "audience": audience,
        "starts_at": starts_at or timezone.now(), "ends_at": ends_at, "channels": list(channels),
    }  # fmt: skip
    _, segments = promotion_check(fields=fields, segment_ids=list(segment_ids))
    promotion = Promotion.objects.create(created_by=created_by, **fields)
    promotion.segments.set(segments)
    return promotion


@transaction.atomic
def promotion_update(
    *,
    promotion_id: int,
    title: str = UNSET,
    description: str = UNSET,
    image_url: str = UNSET,
    cta_text: str = UNSET,
    cta_url: str = UNSET,
    campaign_id: int | None = UNSET,
    audience: str = UNSET,
    segment_ids: Sequence[int] = UNSET,
    starts_at: dt.datetime = UNSET,
    ends_at: dt.datetime | None = UNSET,
    channels: Sequence[str] = UNSET,
) -> Promotion:
    """Change a DRAFT or SCHEDULED promotion (409 once it went out or was cancelled); the whole
    result is checked again. Moving the audience to ALL drops its segments."""
    promotion = _locked(promotion_id)
    _editable(promotion, "changed")
    given = {
        "title": title, "description": description, "image_url": image_url, "cta_text": cta_text,
        "cta_url": cta_url, "campaign_id": campaign_id, "audience": audience, "starts_at": starts_at,
        "ends_at": ends_at, "channels": channels,
    }  # fmt: skip
    fields = {name: getattr(promotion, name) for name in given}
    fields.update({name: value for name, value in given.items() if value is not UNSET})
    if fields["channels"] is not None:
        fields["channels"] = list(fields["channels"])
    if segment_ids is UNSET:
        segment_ids = (
            [] if fields["audience"] == PromotionAudience.ALL else list(promotion.segments.values_list("pk", flat=True))
        )
    _, segments = promotion_check(fields=fields, segment_ids=list(segment_ids))
    if promotion.status == PromotionStatus.SCHEDULED:
        _check_send_at(promotion.send_at, fields.get("ends_at"), now=None)
    for name, value in fields.items():
        setattr(promotion, name, value)
    promotion.save()
    promotion.segments.set(segments)
    if promotion.status == PromotionStatus.SCHEDULED:
        # A scheduled promotion stays one the beat can send (a channel left, content that
        # renders): refused now, rolled back, rather than found out at send time.
        _check_sendable(promotion, now=timezone.now())
    return promotion


def _check_send_at(send_at: dt.datetime, ends_at: dt.datetime | None, *, now: dt.datetime | None) -> None:
    if now is not None and send_at <= now:
        raise invalid("send_at", "The send time must be in the future (send now instead).")
    if ends_at is not None and send_at >= ends_at:
        raise invalid("send_at", "The send time must be before the promotion's window ends.")


def _check_sendable(promotion: Promotion, *, now: dt.datetime) -> None:
    """What sending (now or later) needs beyond a valid draft: a channel, content, a window not over."""
    if promotion.ends_at is not None and promotion.ends_at <= now:
        raise Conflict("promotion_ended", "The promotion's window has ended; nothing to send.", path="ends_at")
    if not promotion.channels:
        raise invalid("channels", "Choose at least one channel to send on.")
    if promotion.campaign is not None and promotion.campaign.archived:
        # Archived after it was linked: its code is freed and would go out empty.
        raise Conflict(
            "campaign_archived",
            f"The linked campaign {promotion.campaign_id} is archived; link another or none.",
            path="campaign_id",
        )
    fields = {name: getattr(promotion, name) for name in (*CONTENT_FIELD_NAMES.values(), "channels")}
    promotion_content_check(fields=fields)
    if promotion.audience == PromotionAudience.SEGMENTS and not promotion.segments.exists():
        raise invalid("segment_ids", "The SEGMENTS audience needs at least one segment.")


@transaction.atomic
def promotion_schedule(*, promotion_id: int, send_at: dt.datetime) -> Promotion:
    """A DRAFT (or already SCHEDULED) promotion goes out at ``send_at`` (future, before it ends)."""
    now = timezone.now()
    promotion = _locked(promotion_id)
    _editable(promotion, "scheduled")
    _check_send_at(send_at, promotion.ends_at, now=now)
    _check_sendable(promotion, now=now)
    promotion.status, promotion.send_at, promotion.send_error = PromotionStatus.SCHEDULED, send_at, ""
    promotion.save(update_fields=["status", "send_at", "send_error", "updated_at"])
    return promotion


def _audience_spec(promotion: Promotion) -> dict[str, Any]:
    if promotion.audience == PromotionAudience.ALL:
        return {"kind": "all"}
    return {"kind": "segments", "ids": sorted(promotion.segments.values_list("pk", flat=True))}


def _send_locked(promotion: Promotion, *, now: dt.datetime) -> Promotion:
    """Send a promotion whose row this transaction holds."""
    if promotion.status == PromotionStatus.CANCELLED:
        raise Conflict("promotion_cancelled", "A cancelled promotion is not sent.", status=promotion.status)
    if promotion.status in WENT_OUT:
        raise Conflict("promotion_already_sent", "This promotion has been sent already.", status=promotion.status)
    _editable(promotion, "sent")  # archived
    _check_sendable(promotion, now=now)
    message = message_send(
        key=f"{SOURCE_TYPE}:{promotion.pk}",
        source_type=SOURCE_TYPE,
        source_id=str(promotion.pk),
        purpose=Purpose.MARKETING,
        content=promotion_content(promotion),
        channels=promotion.channels,
        audience=_audience_spec(promotion),
        context={"code": campaign_code(promotion.campaign), "promotion_title": promotion.title},
    )
    promotion.status, promotion.message, promotion.sent_at, promotion.send_error = (
        PromotionStatus.SENDING, message, now, "",
    )  # fmt: skip
    promotion.save(update_fields=["status", "message", "sent_at", "send_error", "updated_at"])
    return promotion


@transaction.atomic
def promotion_send(*, promotion_id: int) -> Promotion:
    """Send now: the promotion is SENDING and its message fans out once this commits; a
    cancelled, sent or sending one is a 409 (the row lock makes a racing send or cancel wait)."""
    return _send_locked(_locked(promotion_id), now=timezone.now())


@transaction.atomic
def promotion_cancel(*, promotion_id: int) -> Promotion:
    """Stop a DRAFT or SCHEDULED promotion before it goes (again: no-op); once sent, 409."""
    promotion = _locked(promotion_id)
    if promotion.status == PromotionStatus.CANCELLED:
        return promotion
    if promotion.status in WENT_OUT:
        raise Conflict("promotion_already_sent", "This promotion has been sent; it cannot be cancelled.")
    promotion.status = PromotionStatus.CANCELLED
    promotion.save(update_fields=["status", "updated_at"])
    return promotion


@transaction.atomic
def promotion_delete(*, promotion_id: int) -> bool:
    """Erase a promotion that never went out; archive one that did (its message and deliveries
    stay, it leaves the feed). Answers whether it was archived."""
    promotion = _locked(promotion_id)
    if promotion.status not in WENT_OUT:
        promotion.delete()
        return False
    if not promotion.archived:
        promotion.archived, promotion.archived_at = True, timezone.now()
        promotion.save(update_fields=["archived", "archived_at", "updated_at"])
    return True


def promotions_send_due(*, now: dt.datetime | None = None) -> int:
    """Send every SCHEDULED promotion whose time has come, each in its own transaction; the
    number sent. Rows are claimed with SKIP LOCKED, so two beats (or a beat and a marketer's
    "send now") never send one twice. One that can no longer be sent goes back to DRAFT with
    the reason in ``send_error``."""
    now = now or timezone.now()
    sent = 0
    for promotion_id in list(Promotion.objects.due(now).order_by("send_at", "pk").values_list("pk", flat=True)):
        with transaction.atomic():
            promotion = Promotion.objects.select_for_update(skip_locked=True).due(now).filter(pk=promotion_id).first()
            if promotion is None:  # another beat holds it, or it changed meanwhile
                continue
            try:
                with transaction.atomic():
                    _send_locked(promotion, now=now)
                sent += 1
            except DomainError as error:
                logger.warning("Scheduled promotion %s not sent: %s", promotion.pk, error.message)
                promotion.status, promotion.send_error = PromotionStatus.DRAFT, error.message[:2000]
                promotion.save(update_fields=["status", "send_error", "updated_at"])
    return sent


def promotions_settle() -> int:
    """SENDING promotions whose message has written every delivery (or was stopped) become
    SENT; the number settled."""
    settled = 0
    ids = list(
        Promotion.objects.filter(
            status=PromotionStatus.SENDING, message__status__in=[MessageStatus.DONE, MessageStatus.CANCELLED]
        ).values_list("pk", flat=True)
    )
    for promotion_id in ids:
        with transaction.atomic():
            promotion = (
                Promotion.objects.select_for_update(skip_locked=True)
                .filter(pk=promotion_id, status=PromotionStatus.SENDING)
                .first()
            )
            if promotion is not None:
                promotion.status = PromotionStatus.SENT
                promotion.save(update_fields=["status", "updated_at"])
                settled += 1
    return settled


def segment_usage(segment: Segment) -> list[SegmentUse]:
    """Registered into segments: a segment a promotion targets is never deleted from under it."""
    promotions = Promotion.objects.filter(segments=segment, archived=False).exclude(status=PromotionStatus.CANCELLED)
    return [
        SegmentUse("promotion", p.pk, p.title, "admin:promotions_promotion_change")
        for p in promotions.only("pk", "title")[:20]
    ]


def campaign_in_promotions(campaign: Campaign) -> bool:
    """Registered into campaigns: a campaign a promotion links is archived, not erased."""
    return Promotion.objects.filter(campaign=campaign).exists()
