"""What of the commerce tables the nightly retention run (lms/retention.py) may delete."""

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from commerce.models import EventKind, InteractionEvent
from lms.retention import Pruner, pruners


def interaction_events_stale(cutoff: datetime) -> QuerySet[InteractionEvent]:
    """Events older than the cutoff, except each customer's newest LOGIN event.

    Event criteria count over windows of up to segments' MAX_WINDOW_DAYS (3650), so the default
    age exceeds that. "Days since last login" and "ever logged in" look at the newest platform
    LOGIN with no window at all: that one row is kept, or a customer whose only sign-ins are old
    would turn into one who never signed in.
    """
    newer_login = InteractionEvent.objects.filter(
        customer=OuterRef("customer"), kind=EventKind.LOGIN, occurred_at__gt=OuterRef("occurred_at")
    )
    newest_login = Q(kind=EventKind.LOGIN) & ~Q(Exists(newer_login))
    return InteractionEvent.objects.filter(occurred_at__lt=cutoff).exclude(newest_login)


def commerce_pruners_register() -> None:
    pruners.register(
        "commerce.interaction_events",
        Pruner("interaction events", interaction_events_stale, setting="RETENTION_EVENTS_DAYS", min_days=1),
    )
