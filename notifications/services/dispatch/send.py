"""Claiming due deliveries and sending them through the channel providers (the steps and
the delivery guarantee are in ``notifications.services.dispatch``)."""

import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from notifications.content import RenderError
from notifications.models import (
    DELIVERED,
    Channel,
    Delivery,
    DeliveryStatus,
    MessageStatus,
    Preference,
    Purpose,
    PushDevice,
)
from notifications.providers import Outgoing, Provider, ProviderPermanent, ProviderTransient, provider_for
from notifications.services import compose, policy

logger = logging.getLogger("notifications.services.dispatch")  # one logger for the package

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
