"""What of the notifications tables the nightly retention run (lms/retention.py) may delete.

Messages are never deleted: the message key (``promotion:5``) is what makes a retried or re-run
trigger return the old message instead of sending again, so once a message is DONE no fan-out
can write its deliveries again however many of them were pruned.
"""

from datetime import datetime

from django.db.models import Q, QuerySet

from lms.retention import Pruner, pruners
from notifications.models import DELIVERED, Delivery, DeliveryStatus, MessageStatus

# Nothing will happen to these any more: no send, no retry, no sweep takes them over.
FINAL = (*DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)


def deliveries_stale(cutoff: datetime) -> QuerySet[Delivery]:
    """Deliveries past the age, final, of a message whose fan-out is over.

    A message still PENDING or FANNING_OUT could be restarted by the sweeper, and its unique
    (message, recipient, channel) rows are what stop a second send, so its rows stay. The
    daily frequency cap counts sends of the last day, kept by the minimum age.
    """
    return Delivery.objects.filter(
        Q(sent_at__isnull=True) | Q(sent_at__lt=cutoff),
        created_at__lt=cutoff,
        status__in=FINAL,
        message__status__in=(MessageStatus.DONE, MessageStatus.CANCELLED),
    )


def notifications_pruners_register() -> None:
    pruners.register(
        "notifications.deliveries",
        Pruner("notification deliveries", deliveries_stale, setting="RETENTION_DELIVERIES_DAYS", min_days=2),
    )
