"""The customer's in-app inbox: what they see, and marking it read.

An inbox item is one of the caller's IN_APP deliveries that reached them (``DELIVERED``).
Unread means still ``SENT``: reading moves it to ``READ`` (a ``CLICKED`` item was seen
already and keeps its status; reading it only fills ``read_at`` if the click did not).
Both writes are single conditional UPDATEs, so a read racing read-all or a click never
moves a row backwards and never counts it twice.
"""

from django.db.models import Case, F, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from lms.errors import NotFound
from notifications.models import DELIVERED, Channel, Delivery, DeliveryStatus


def inbox_items(*, user_id: int, unread: bool | None = None) -> QuerySet[Delivery]:
    """The user's inbox, newest first (served by the ``notifications_inbox`` index)."""
    items = (
        Delivery.objects.filter(recipient_id=user_id, channel=Channel.IN_APP, status__in=DELIVERED)
        .select_related("message")
        .order_by("-created_at", "-id")
    )
    if unread is True:
        items = items.filter(status=DeliveryStatus.SENT)
    elif unread is False:
        items = items.exclude(status=DeliveryStatus.SENT)
    return items


def inbox_unread_count(*, user_id: int) -> int:
    return Delivery.objects.filter(recipient_id=user_id, channel=Channel.IN_APP, status=DeliveryStatus.SENT).count()


def inbox_item_read(*, user_id: int, delivery_id: int) -> Delivery:
    """Mark one of the user's inbox items read; idempotent. Another person's item, or a
    delivery that is not in an inbox, is :class:`NotFound` (its existence is not revealed)."""
    now = timezone.now()
    # One conditional UPDATE: the WHERE names the owner, so another customer's id changes nothing.
    Delivery.objects.filter(pk=delivery_id, recipient_id=user_id, channel=Channel.IN_APP, status__in=DELIVERED).update(
        status=Case(When(status=DeliveryStatus.SENT, then=Value(DeliveryStatus.READ)), default=F("status")),
        read_at=Coalesce(F("read_at"), Value(now)),
    )
    item = inbox_items(user_id=user_id).filter(pk=delivery_id).first()
    if item is None:
        raise NotFound("not_found", f"No notification {delivery_id} in your inbox.")
    return item


def inbox_read_all(*, user_id: int) -> int:
    """Mark every unread item of the user's inbox read in one statement; how many changed."""
    return Delivery.objects.filter(recipient_id=user_id, channel=Channel.IN_APP, status=DeliveryStatus.SENT).update(
        status=DeliveryStatus.READ, read_at=Coalesce(F("read_at"), Value(timezone.now()))
    )
