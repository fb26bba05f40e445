"""Reads for the console and the admin API: what became of each message's deliveries."""

from collections.abc import Iterable

from django.db.models import Count, Q

from notifications.models import DELIVERED, Delivery, DeliveryStatus

# What each count counts. "sent" is every delivery that reached its recipient (read and
# clicked ones too); "read" and "clicked" are subsets of it; "pending" includes rows being sent.
COUNTS = {
    "sent": Q(status__in=DELIVERED),
    "failed": Q(status=DeliveryStatus.FAILED),
    "skipped": Q(status=DeliveryStatus.SKIPPED),
    "pending": Q(status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
    "read": Q(status=DeliveryStatus.READ) | Q(read_at__isnull=False),
    "clicked": Q(status=DeliveryStatus.CLICKED) | Q(clicked_at__isnull=False),
    "unsubscribed": Q(unsubscribed_at__isnull=False),
}


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNTS, 0)


def message_counts(message_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per message, its deliveries counted by outcome: one aggregate query for all of them."""
    ids = list(message_ids)
    counts = {pk: _zero() for pk in ids}
    if not ids:
        return counts
    rows = (
        Delivery.objects.filter(message_id__in=ids)
        .order_by()
        .values("message_id")
        .annotate(**{name: Count("pk", filter=condition) for name, condition in COUNTS.items()})
    )
    for row in rows:
        counts[row.pop("message_id")] = row
    return counts


def message_channel_counts(message_id: int) -> dict[str, dict[str, int]]:
    """One message's counts per channel (one query)."""
    rows = (
        Delivery.objects.filter(message_id=message_id)
        .order_by()
        .values("channel")
        .annotate(**{name: Count("pk", filter=condition) for name, condition in COUNTS.items()})
    )
    return {row.pop("channel"): row for row in rows}


def deliveries_in_flight() -> dict[str, int]:
    """Deliveries not yet settled, PENDING (waiting for a send or a retry) and SENDING: one query
    on the dispatcher's (status, available_at) index."""
    waiting = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    counts = dict.fromkeys(waiting, 0)
    rows = Delivery.objects.filter(status__in=waiting).values_list("status").annotate(n=Count("pk"))
    counts.update(rows)
    return {str(status): n for status, n in counts.items()}
