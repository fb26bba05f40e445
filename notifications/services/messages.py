"""Messages: record one, fan it out to deliveries, cancel it.

The lock order here and in the dispatcher: a :class:`Message` row before its deliveries.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Role, User
from lms.db import copy_insert_new
from lms.outbox import outbox_enqueue
from notifications import registry
from notifications.content import Content, RenderError, content_check, render
from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus, Preference, Purpose


def _audience_check(audience: Mapping[str, Any]) -> None:
    kind = audience.get("kind")
    if kind not in registry.audiences:
        raise ValueError(f"unknown audience kind {kind!r}")


@transaction.atomic
def message_send(
    *,
    key: str,
    source_type: str,
    source_id: str = "",
    purpose: str = Purpose.MARKETING,
    content: Content,
    channels: Sequence[str],
    audience: Mapping[str, Any],
    context: Mapping[str, Any] | None = None,
) -> Message:
    """Record what ``source`` says to ``audience`` and fan it out once this transaction commits.

    Idempotent on ``key``: a message already recorded under it is returned as it is (a retried
    trigger never sends twice). Content is checked as at save time (a 400 names the field).
    """
    existing = Message.objects.filter(key=key).first()
    if existing is not None:
        return existing
    content_check(content=content, channels=channels)
    _audience_check(audience)
    message, created = Message.objects.get_or_create(
        key=key,
        defaults={
            "source_type": source_type,
            "source_id": str(source_id),
            "purpose": purpose,
            "title": content.title,
            "body": content.body,
            "image_url": content.image_url,
            "cta_text": content.cta_text,
            "cta_url": content.cta_url,
            "channels": list(channels),
            "audience": dict(audience),
            "context": dict(context or {}),
        },
    )
    if created:
        outbox_enqueue("notifications.tasks.message_fanout_task", message.pk)
    return message


@transaction.atomic
def message_cancel(*, message_id: int) -> Message:
    """Stop a message: no more recipients, and deliveries not yet handed over are skipped."""
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.status == MessageStatus.CANCELLED:
        return message
    message.status = MessageStatus.CANCELLED
    message.finished_at = timezone.now()
    message.save(update_fields=["status", "finished_at"])
    Delivery.objects.filter(message=message, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SKIPPED, reason="cancelled"
    )
    return message


def fanout_batch_size() -> int:
    return settings.NOTIFICATIONS_FANOUT_BATCH


def _base_values(ids: list[int]) -> dict[int, dict[str, Any]]:
    users = User.objects.filter(pk__in=ids).values_list("pk", "first_name", "last_name", "email")
    return {pk: {"first_name": first, "last_name": last, "email": email} for pk, first, last, email in users}


def recipient_values(message: Message, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Every recipient's placeholder values: the user's own, then the source's provider's."""
    values = _base_values(ids)
    if message.source_type in registry.contexts:
        for pk, extra in registry.contexts.get(message.source_type)(message, ids).items():
            values.setdefault(pk, {}).update(extra)
    return values


def _in_app_outcome(message: Message, values: dict[str, Any], opted_out: bool, now) -> dict[str, Any]:
    # In-app is written ready: the inbox is the provider, so the row is the send.
    if opted_out:
        return {"status": DeliveryStatus.SKIPPED, "reason": "opted_out"}
    merged = {**message.context, **values}
    try:
        title, body = render(message.title, merged)[:255], render(message.body, merged)
    except RenderError as exc:  # a value its source did not provide: this row fails, not the batch
        return {"status": DeliveryStatus.FAILED, "last_error": f"render: {exc}"[:2000]}
    return {"status": DeliveryStatus.SENT, "title": title, "body": body, "sent_at": now}


def _in_app_row(message: Message, recipient_id: int, values: dict[str, Any], opted_out: bool) -> Delivery:
    now = timezone.now()
    return Delivery(
        message=message, recipient_id=recipient_id, channel=Channel.IN_APP, context=values, created_at=now,
        **_in_app_outcome(message, values, opted_out, now),
    )  # fmt: skip


# The columns a fan-out writes (the rest are NULL until a send fills them).
ROW_COLUMNS = (
    "message", "recipient", "channel", "status", "reason", "context", "address", "title", "body", "attempts",
    "last_error", "provider_message_id", "available_at", "created_at", "sent_at",
)  # fmt: skip


def _row(message: Message, recipient_id: int, channel: str, values: dict[str, Any], now, **outcome) -> tuple:
    fields = {
        "status": DeliveryStatus.PENDING,
        "reason": "",
        "title": "",
        "body": "",
        "last_error": "",
        "sent_at": None,
    }
    fields.update(outcome)
    return (
        message.pk, recipient_id, channel, fields["status"], fields["reason"], values, "", fields["title"],
        fields["body"], 0, fields["last_error"], "", now, now, fields["sent_at"],
    )  # fmt: skip


def message_fanout_batch(*, message_id: int) -> bool:
    """Write the next batch of deliveries; ``True`` while recipients remain.

    The message row is locked for the batch, so a redelivered fan-out task beside the first
    one waits and then continues after the cursor instead of writing the same batch twice
    (the unique constraint would make that harmless, the lock makes it cheap).
    """
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message_id)
        if message.status in (MessageStatus.DONE, MessageStatus.CANCELLED):
            return False
        now = timezone.now()
        ids = registry.audiences.get(message.audience["kind"])(message.audience, message.cursor, fanout_batch_size())
        if not ids:
            message.status, message.finished_at = MessageStatus.DONE, now
            message.save(update_fields=["status", "finished_at"])
            return False
        values = recipient_values(message, ids)
        in_app_off = set()
        if Channel.IN_APP in message.channels and message.purpose == Purpose.MARKETING:
            in_app_off = set(Preference.objects.filter(user_id__in=ids, in_app=False).values_list("user_id", flat=True))
        rows = []
        for recipient_id in ids:
            mine = values.get(recipient_id, {})
            for channel in message.channels:
                if channel == Channel.IN_APP:
                    outcome = _in_app_outcome(message, mine, recipient_id in in_app_off, now)
                    rows.append(_row(message, recipient_id, channel, mine, now, **outcome))
                else:
                    rows.append(_row(message, recipient_id, channel, mine, now))
        # Ignoring rows already there (unique per recipient and channel): never a failed batch.
        copy_insert_new(Delivery, ROW_COLUMNS, rows)
        if any(channel != Channel.IN_APP for channel in message.channels):
            # The batch's sends are a task row in this same transaction: committed together or not at all.
            # Several small send tasks rather than one per batch: a worker process is never held
            # by one long task, so an OTP or a smaller message's sends wait a moment, not the batch.
            size = settings.NOTIFICATIONS_SEND_TASK_SIZE
            for start in range(0, len(ids), size):
                part = ids[start : start + size]
                outbox_enqueue("notifications.tasks.deliveries_send_task", message.pk, part[0], part[-1])
        if message.status == MessageStatus.PENDING:
            message.status, message.started_at = MessageStatus.FANNING_OUT, now
        message.cursor = ids[-1]
        message.recipients += len(ids)
        message.progress_at = now
        message.save(update_fields=["status", "started_at", "cursor", "recipients", "progress_at"])
        return True


def message_fanout(*, message_id: int) -> None:
    """Write every delivery of a message, a batch per transaction (resumable after a crash)."""
    while message_fanout_batch(message_id=message_id):
        pass


# --- audiences notifications knows itself --------------------------------------------------


def customers_audience(spec: Mapping[str, Any], after: int, limit: int) -> list[int]:
    ids = sorted({int(pk) for pk in spec.get("ids", []) if int(pk) > after})[:limit]
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("pk").values_list("pk", flat=True))


def all_customers_audience(spec: Mapping[str, Any], after: int, limit: int) -> list[int]:
    customers = User.objects.filter(Q(is_active=True, is_staff=False, is_superuser=False, role=Role.USER), pk__gt=after)
    return list(customers.order_by("pk").values_list("pk", flat=True)[:limit])
