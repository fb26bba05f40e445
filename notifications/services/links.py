"""Signed links in notifications: the tracked CTA redirect and the one-click unsubscribe.

``/n/c/<token>`` records the click on its delivery and redirects to that delivery's own stored
CTA link (never to a URL taken from the request: no open redirect). ``/n/u/<token>`` turns
off the consent of the delivery's channel. A token is the delivery id signed with SECRET_KEY
and a salt per purpose; it does not expire (an unsubscribe link in an old mail must work).
"""

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import user_profile_update
from notifications.models import DELIVERED, Channel, Delivery, DeliveryStatus, Preference

_CLICK = signing.Signer(salt="notifications.click")
_UNSUBSCRIBE = signing.Signer(salt="notifications.unsubscribe")

# The customer's consent each channel's unsubscribe link turns off.
CONSENT_FIELD = {Channel.EMAIL: "marketing_email", Channel.SMS: "marketing_sms", Channel.PUSH: "marketing_push"}


def _absolute(path: str) -> str:
    return settings.NOTIFICATIONS_BASE_URL.rstrip("/") + path


def click_url(delivery_id: int) -> str:
    """The tracked link of a delivery's call to action."""
    return _absolute(reverse("notification-click", args=[_CLICK.sign(str(delivery_id))]))


def unsubscribe_url(delivery_id: int) -> str:
    return _absolute(reverse("notification-unsubscribe", args=[_UNSUBSCRIBE.sign(str(delivery_id))]))


def _delivery_id(signer: signing.Signer, token: str) -> int | None:
    try:
        return int(signer.unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def click_delivery(token: str) -> Delivery | None:
    """The delivery a click token names, or None when the signature is bad."""
    delivery_id = _delivery_id(_CLICK, token)
    return Delivery.objects.select_related("message").filter(pk=delivery_id).first() if delivery_id else None


def unsubscribe_delivery(token: str) -> Delivery | None:
    delivery_id = _delivery_id(_UNSUBSCRIBE, token)
    return Delivery.objects.select_related("recipient").filter(pk=delivery_id).first() if delivery_id else None


def delivery_click(*, delivery_id: int) -> str:
    """Record the first click of a delivery (CLICKED, clicked_at) and answer its CTA link."""
    now = timezone.now()
    # Conditional updates: a double click records the first time only, and a click never
    # turns a FAILED or SKIPPED row into a delivered one.
    Delivery.objects.filter(pk=delivery_id, clicked_at__isnull=True).update(clicked_at=now)
    Delivery.objects.filter(pk=delivery_id, status__in=DELIVERED).update(status=DeliveryStatus.CLICKED)
    return Delivery.objects.select_related("message").get(pk=delivery_id).message.cta_url


@transaction.atomic
def delivery_unsubscribe(*, delivery_id: int) -> Delivery:
    """Turn off the marketing consent of the delivery's channel for its recipient; record when.

    Idempotent: the second click changes nothing and keeps the first time.
    """
    delivery = Delivery.objects.select_related("recipient").get(pk=delivery_id)
    user = User.objects.select_for_update().get(pk=delivery.recipient_id)
    field = CONSENT_FIELD.get(delivery.channel)
    if field is not None:
        if getattr(user, field):
            user_profile_update(user=user, **{field: False})
    else:  # IN_APP: the inbox's marketing messages
        Preference.objects.update_or_create(user=user, defaults={"in_app": False})
    Delivery.objects.filter(Q(pk=delivery_id) & Q(unsubscribed_at__isnull=True)).update(unsubscribed_at=timezone.now())
    delivery.refresh_from_db()
    return delivery
