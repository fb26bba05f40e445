"""Retrying deliveries by hand, and the sweeper that takes over expired leases and stalled
fan-outs (lock order in ``notifications.services.dispatch``)."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone

from lms.errors import Invalid
from lms.outbox import outbox_enqueue
from notifications.models import (
    Delivery,
    DeliveryStatus,
    Message,
    MessageStatus,
)
from notifications.services.dispatch.send import SENT_CHANNELS, logger


def _invalid(field: str, text: str) -> Invalid:
    error = Invalid("validation_error", f"{field}: {text}")
    error.details = {field: [text]}
    return error


# --- retries and the sweeper --------------------------------------------------------------------


def _enqueue_sends(rows: QuerySet[Delivery]) -> int:
    """One send task per message over the recipient range of ``rows`` (in this transaction)."""
    groups = rows.order_by().values("message_id").annotate(first=Min("recipient_id"), last=Max("recipient_id"))
    count = 0
    for group in groups:
        outbox_enqueue("notifications.tasks.deliveries_send_task", group["message_id"], group["first"], group["last"])
        count += 1
    return count


@transaction.atomic
def deliveries_retry(*, delivery_ids: Iterable[int]) -> int:
    """FAILED deliveries back to PENDING with a fresh set of attempts, dispatched again once
    this commits; the number requeued (rows of a cancelled message stay as they are)."""
    try:
        ids = sorted({int(pk) for pk in delivery_ids})
    except (TypeError, ValueError, OverflowError):
        raise _invalid("delivery_ids", "A list of delivery ids (integers).") from None
    rows = Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.FAILED, channel__in=SENT_CHANNELS).exclude(
        message__status=MessageStatus.CANCELLED
    )
    # Locked in primary-key order: a concurrent retry of the same ids requeues each row once.
    locked = list(rows.order_by("pk").select_for_update(of=("self",)).values_list("pk", flat=True))
    if not locked:
        return 0
    requeued = Delivery.objects.filter(pk__in=locked, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING, attempts=0, available_at=timezone.now(), lease_until=None, reason=""
    )
    _enqueue_sends(Delivery.objects.filter(pk__in=locked))
    return requeued


def deliveries_sweep(*, now: datetime | None = None, grace: timedelta | None = None, limit: int = 500) -> dict:
    """Beat's safety net (every minute):

    - SENDING rows past their lease (their worker died) go back to PENDING, or FAILED once they
      have used every attempt;
    - PENDING rows due for longer than ``grace`` (their task was lost, a backoff or quiet hours
      ended) are dispatched again: one task per message;
    - messages left PENDING / FANNING_OUT without progress for NOTIFICATIONS_FANOUT_STALL_SECONDS
      get their fan-out task again (it resumes after its cursor).
    """
    real_now = timezone.now()
    now = now or real_now
    grace = timedelta(seconds=settings.NOTIFICATIONS_SWEEP_GRACE_SECONDS) if grace is None else grace
    expired = Delivery.objects.filter(status=DeliveryStatus.SENDING, lease_until__lt=now)
    failed = expired.filter(attempts__gte=settings.NOTIFICATIONS_MAX_ATTEMPTS).update(
        status=DeliveryStatus.FAILED, lease_until=None, last_error="lease expired on the last attempt"
    )
    taken = list(expired.order_by("pk").values_list("pk", flat=True)[: limit * 10])
    # Conditional: a row whose dispatcher finished in the meantime is left as it is.
    taken_over = Delivery.objects.filter(pk__in=taken, status=DeliveryStatus.SENDING, lease_until__lt=now).update(
        status=DeliveryStatus.PENDING, lease_until=None, available_at=real_now
    )
    due = Delivery.objects.filter(
        Q(status=DeliveryStatus.PENDING, channel__in=SENT_CHANNELS)
        & (Q(available_at__lte=now - grace) | Q(pk__in=taken))
    )
    stall = now - timedelta(seconds=settings.NOTIFICATIONS_FANOUT_STALL_SECONDS)
    stalled = list(
        Message.objects.filter(status__in=(MessageStatus.PENDING, MessageStatus.FANNING_OUT))
        .filter(Q(progress_at__lt=stall) | Q(progress_at__isnull=True, created_at__lt=stall))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    with transaction.atomic():
        dispatched = _enqueue_sends(due.filter(message_id__in=_due_messages(due, limit)))
        restarted = 0
        for message_id in stalled:
            # Conditional on no progress since: two sweepers restart a fan-out once.
            if (
                Message.objects.filter(pk=message_id)
                .filter(Q(progress_at__lt=stall) | Q(progress_at__isnull=True))
                .update(progress_at=real_now)
            ):
                outbox_enqueue("notifications.tasks.message_fanout_task", message_id)
                restarted += 1
    result = {"failed": failed, "taken_over": taken_over, "dispatched": dispatched, "fanouts_restarted": restarted}
    if any(result.values()):
        logger.info("notifications sweep: %s", result)
    return result


def _due_messages(due: QuerySet[Delivery], limit: int) -> list[int]:
    return list(due.order_by("message_id").values_list("message_id", flat=True).distinct()[:limit])
