"""Sending deliveries through the channel providers.

A delivery row is the outbox of its send. The dispatcher:

1. claims due rows (PENDING, ``available_at <= now``) a chunk at a time: ``SELECT ... FOR
   UPDATE SKIP LOCKED`` then PENDING -> SENDING with ``lease_until`` and ``attempts + 1``, so
   two dispatchers on the same batch never hold the same row;
2. for marketing, judges consent (SKIPPED opted_out / no_address), the daily cap (SKIPPED
   frequency_cap) and quiet hours (back to PENDING at their end, reason quiet_hours);
3. renders the message for the recipient and hands it to the channel's provider;
4. records the outcome with a conditional update on (SENDING, its attempt number): SENT with
   the provider's id; a transient error back to PENDING with backoff (FAILED after
   ``NOTIFICATIONS_MAX_ATTEMPTS``); a permanent one FAILED with the reason.

A worker killed between 3 and 4 leaves the row SENDING; the sweeper takes it over once its
lease has run out and it is sent again with the same Message-ID / Idempotency-Key. That is the
delivery guarantee: exactly once in the database, at least once at the provider, a duplicate
only for a send in flight when its worker died.

Lock order (with services/messages.py): a Message row before its deliveries; deliveries in
primary-key order.
"""

import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from lms.errors import Invalid
from lms.outbox import outbox_enqueue
from notifications import registry
from notifications.content import Content, RenderError, content_check
from notifications.models import (
    DELIVERED,
    Channel,
    Delivery,
    DeliveryStatus,
    Message,
    MessageStatus,
    Preference,
    Purpose,
    PushDevice,
)
from notifications.providers import Outgoing, Provider, ProviderPermanent, ProviderTransient, provider_for
from notifications.services import compose, policy

logger = logging.getLogger(__name__)

TEST_SOURCE = "test_send"  # Message.source_type of notification_test_send's messages
SENT_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PUSH)  # what a provider sends; in-app is written sent
PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{4,30}$")


def _lease() -> timedelta:
    return timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS)


def retry_backoff(attempts: int) -> timedelta:
    """How long a row waits after its ``attempts``-th transient failure: doubling, at most 1 h."""
    base = settings.NOTIFICATIONS_RETRY_BACKOFF_SECONDS
    return timedelta(seconds=min(base * 2 ** min(attempts - 1, 16), 3600))


# --- claiming ---------------------------------------------------------------------------------


def _claim(rows: QuerySet[Delivery], *, limit: int) -> list[Delivery]:
    """Take up to ``limit`` due rows of ``rows`` for this dispatcher (PENDING -> SENDING)."""
    now = timezone.now()
    with transaction.atomic():
        # SKIP LOCKED: a second dispatcher on the same batch takes the next rows instead of
        # waiting for these, and never the same ones (they are SENDING once this commits).
        ids = list(
            rows.filter(status=DeliveryStatus.PENDING, available_at__lte=now, channel__in=SENT_CHANNELS)
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.SENDING, lease_until=now + _lease(), attempts=F("attempts") + 1
        )
    return list(Delivery.objects.filter(pk__in=ids).select_related("message", "recipient").order_by("pk"))


@contextmanager
def _async_commits() -> Iterator[None]:
    """Outcome writes in this block do not wait for their WAL flush (PostgreSQL's asynchronous
    commit: one round trip per row instead of a disk flush per row). A worker dying loses
    nothing committed; only a database crash can lose the last fraction of a second of
    outcomes, and those rows, left SENDING, are sent again after their lease with the same
    Message-ID: the guarantee is unchanged (at least once at the provider, duplicates only for
    sends in flight, exactly once in the database)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _finish(row: Delivery, **changes) -> bool:
    """Record the outcome of this dispatcher's attempt, unless the row was taken over since
    (its lease ran out and the sweeper gave it to another dispatcher): then that one records."""
    updated = Delivery.objects.filter(pk=row.pk, status=DeliveryStatus.SENDING, attempts=row.attempts).update(
        lease_until=None, **changes
    )
    if not updated:
        logger.warning("delivery %s was taken over before its outcome was recorded", row.pk)
    return bool(updated)


# --- one chunk --------------------------------------------------------------------------------


class _Chunk:
    """What the policy checks of a chunk of claimed rows read, in a few queries."""

    def __init__(self, rows: Sequence[Delivery], now: datetime) -> None:
        recipients = {row.recipient_id for row in rows}
        self.preferences = {p.user_id: p for p in Preference.objects.filter(user_id__in=recipients)}
        self.devices: dict[int, list[PushDevice]] = defaultdict(list)
        if any(row.channel == Channel.PUSH for row in rows):
            for device in PushDevice.objects.filter(user_id__in=recipients, active=True).order_by("pk"):
                self.devices[device.user_id].append(device)
        # The cap counts marketing messages delivered on a provider channel in the last 24 h,
        # per customer: one message on EMAIL and SMS is one message. (Two dispatchers sending
        # two messages to one customer at the same instant may both pass: a soft limit.)
        self.recent: dict[int, set[int]] = defaultdict(set)
        if settings.NOTIFICATIONS_DAILY_CAP and any(row.message.purpose == Purpose.MARKETING for row in rows):
            sent = Delivery.objects.filter(
                recipient_id__in=recipients,
                channel__in=SENT_CHANNELS,
                status__in=DELIVERED,
                message__purpose=Purpose.MARKETING,
                sent_at__gte=now - timedelta(days=1),
            ).values_list("recipient_id", "message_id")
            for recipient_id, message_id in sent.distinct():
                self.recent[recipient_id].add(message_id)
        self.providers: dict[str, Provider] = {}

    def over_cap(self, row: Delivery) -> bool:
        seen = self.recent[row.recipient_id]
        return row.message_id not in seen and len(seen) >= settings.NOTIFICATIONS_DAILY_CAP

    def provider(self, channel: str) -> Provider:
        if channel not in self.providers:
            self.providers[channel] = provider_for(channel)
            self.providers[channel].open()
        return self.providers[channel]

    def close(self) -> None:
        for provider in self.providers.values():
            provider.close()


def _addresses(row: Delivery, chunk: _Chunk) -> list[str]:
    if row.message.source_type == TEST_SOURCE:
        return [row.address] if row.address else []  # a test send goes where the admin said
    user = row.recipient
    if row.channel == Channel.EMAIL:
        return [user.email] if user.email else []
    if row.channel == Channel.SMS:
        return [user.phone] if user.phone.strip() else []
    return [device.token for device in chunk.devices.get(row.recipient_id, [])]


def _skip(row: Delivery, reason: str) -> None:
    _finish(row, status=DeliveryStatus.SKIPPED, reason=reason)


def _outgoing(row: Delivery, rendered: compose.Rendered, to: str, device: int) -> Outgoing:
    if row.channel == Channel.EMAIL:
        text, html, headers = compose.email_parts(row, rendered)
        return Outgoing(
            channel=row.channel,
            to=to,
            title=compose.email_subject(rendered),
            body=text,
            html=html,
            headers=headers,
            idempotency_key=headers["Message-ID"],
            image_url=row.message.image_url,
        )
    body, link = compose.short_text(row, rendered)
    key = compose.idempotency_key(row) + (f".{device}" if device else "")
    return Outgoing(
        channel=row.channel, to=to, title=rendered.title, body=body, link=link,
        idempotency_key=key, image_url=row.message.image_url,
    )  # fmt: skip


def _send_one(row: Delivery, chunk: _Chunk, now: datetime) -> bool:
    """Judge, render and send one claimed row and record what happened; True when sent."""
    message = row.message
    if message.status == MessageStatus.CANCELLED:
        _skip(row, "cancelled")
        return False
    if not row.recipient.is_active:
        # Deactivated (or erased) after the row was written: a retry or a late send must not
        # reach an account that is closed, marketing or not.
        _skip(row, "inactive")
        return False
    marketing = message.purpose == Purpose.MARKETING
    preference = chunk.preferences.get(row.recipient_id)
    if marketing and not policy.consent_given(row.recipient, row.channel, preference):
        _skip(row, "opted_out")
        return False
    addresses = _addresses(row, chunk)
    if not addresses:
        _skip(row, "no_address")
        return False
    if marketing:
        if settings.NOTIFICATIONS_DAILY_CAP and chunk.over_cap(row):
            _skip(row, "frequency_cap")
            return False
        until = policy.quiet_until_for(now, preference)
        if until is not None:
            # Deferred, not failed: the attempt is given back and the sweeper sends it then.
            _finish(
                row, status=DeliveryStatus.PENDING, available_at=until, reason="quiet_hours",
                attempts=F("attempts") - 1,
            )  # fmt: skip
            return False
    try:
        rendered = compose.render_delivery(row)
    except RenderError as exc:
        _finish(row, status=DeliveryStatus.FAILED, last_error=f"render: {exc}"[:2000])
        return False
    address = ",".join(addresses)[:254]
    try:
        provider = chunk.provider(row.channel)
        ids = [provider.send(_outgoing(row, rendered, to, index)) for index, to in enumerate(addresses)]
    except ProviderPermanent as exc:
        _finish(row, status=DeliveryStatus.FAILED, last_error=str(exc)[:2000], address=address)
        return False
    except Exception as exc:  # ProviderTransient, and anything unforeseen: retried, then failed
        if not isinstance(exc, ProviderTransient):
            logger.exception("delivery %s: unexpected error from the %s provider", row.pk, row.channel)
        error = f"{exc}"[:2000] or repr(exc)
        if row.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
            _finish(row, status=DeliveryStatus.FAILED, last_error=error, address=address)
        else:
            _finish(
                row, status=DeliveryStatus.PENDING, last_error=error, address=address,
                available_at=timezone.now() + retry_backoff(row.attempts),
            )  # fmt: skip
        return False
    sent = _finish(
        row, status=DeliveryStatus.SENT, sent_at=timezone.now(), provider_message_id=",".join(ids)[:255],
        address=address, title=rendered.title[:255], body=rendered.body, reason="", last_error="",
    )  # fmt: skip
    if sent and marketing:
        chunk.recent[row.recipient_id].add(row.message_id)
    return sent


def _send_claimed(rows: Sequence[Delivery]) -> int:
    if not rows:
        return 0
    chunk = _Chunk(rows, timezone.now())
    sent = 0
    try:
        with _async_commits():
            for row in rows:
                now = timezone.now()
                # A slow provider (timeouts) must not keep a row past its lease, or the sweeper
                # would hand it to another dispatcher while this one still sends it: what is
                # left of the chunk near the end of its lease goes back, due now.
                if row.lease_until is not None and now >= row.lease_until - _lease() / 5:
                    _finish(row, status=DeliveryStatus.PENDING, available_at=now, attempts=F("attempts") - 1)
                    continue
                sent += _send_one(row, chunk, now)
    finally:
        chunk.close()
    return sent


def _send_due(rows: QuerySet[Delivery]) -> int:
    sent = 0
    while claimed := _claim(rows, limit=settings.NOTIFICATIONS_SEND_CHUNK):
        sent += _send_claimed(claimed)
    return sent


def deliveries_send(*, message_id: int, first_recipient: int, last_recipient: int) -> int:
    """Send the due deliveries of one fan-out batch (recipients in the given id range); the
    number sent. Safe to run twice at once or again after a crash: rows are claimed."""
    rows = Delivery.objects.filter(
        message_id=message_id, recipient_id__gte=first_recipient, recipient_id__lte=last_recipient
    )
    return _send_due(rows)


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


# --- a test send ----------------------------------------------------------------------------------


def _invalid(field: str, text: str) -> Invalid:
    error = Invalid("validation_error", f"{field}: {text}")
    error.details = {field: [text]}
    return error


def _user_by_address(to: str) -> User | None:
    lookup = Q(email__iexact=to) | Q(phone=to)
    if to.isdigit():
        lookup |= Q(pk=int(to))
    return User.objects.filter(lookup, is_active=True).order_by("pk").first()


def _test_address(channel: str, to: str) -> str:
    to = (to or "").strip()
    if not to:
        raise _invalid("to", "Required.")
    if channel == Channel.EMAIL:
        try:
            validate_email(to)
        except ValidationError:
            raise _invalid("to", "Enter a valid email address.") from None
    elif channel == Channel.SMS and not PHONE.match(to):
        raise _invalid("to", "Enter a phone number (digits, an optional leading +).")
    elif len(to) > 254:
        raise _invalid("to", "At most 254 characters.")
    return to


def notification_test_send(*, channel: str, to: str, content: Content, by: User | None = None) -> Delivery:
    """Send one TRANSACTIONAL message now to an address (an email, a phone, a device token; for
    IN_APP the email or id of the account whose inbox gets it) and answer its delivery: SENT,
    FAILED with last_error, or PENDING with last_error when a transient error will be retried.

    Placeholders take the values of the recipient account (``by``, or the account with that
    address); a placeholder with no value shows as ``[name]``.
    """
    if channel not in Channel.values:
        raise _invalid("channel", f"Unknown channel {channel!r}; one of {', '.join(Channel.values)}.")
    to = _test_address(channel, to)
    content_check(content=content, channels=[channel], prefix="content.")
    recipient = _user_by_address(to) if channel == Channel.IN_APP or by is None else by
    if recipient is None:
        if channel == Channel.IN_APP:
            raise _invalid("to", "No active account has this email or id.")
        raise _invalid("to", "No account has this address: name the sender (by).")
    from notifications.services.messages import _in_app_row, recipient_values

    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.create(
            key=f"{TEST_SOURCE}:{uuid.uuid4().hex}",
            source_type=TEST_SOURCE,
            source_id=str(by.pk) if by else "",
            purpose=Purpose.TRANSACTIONAL,
            title=content.title, body=content.body, image_url=content.image_url,
            cta_text=content.cta_text, cta_url=content.cta_url,
            channels=[channel],
            audience={"kind": "customers", "ids": [recipient.pk]},
            status=MessageStatus.DONE, started_at=now, finished_at=now, progress_at=now, recipients=1,
        )  # fmt: skip
        values = {f"{name}": f"[{name}]" for name in registry.placeholders}
        values.update(recipient_values(message, [recipient.pk]).get(recipient.pk, {}))
        if channel == Channel.IN_APP:
            row = _in_app_row(message, recipient.pk, values, opted_out=False)
            row.address = to
            row.save()
            return row
        row = Delivery.objects.create(message=message, recipient=recipient, channel=channel, context=values, address=to)
    _send_claimed(_claim(Delivery.objects.filter(pk=row.pk), limit=1))
    row.refresh_from_db()
    return row
