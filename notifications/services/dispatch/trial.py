"""A test send: one TRANSACTIONAL message to an address, sent now."""

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from notifications import registry
from notifications.content import Content, content_check
from notifications.models import (
    Channel,
    Delivery,
    Message,
    MessageStatus,
    Purpose,
)
from notifications.services.dispatch.send import (
    PHONE,
    TEST_SOURCE,
    _claim,
    _send_claimed,
)
from notifications.services.dispatch.sweep import _invalid

# --- a test send ----------------------------------------------------------------------------------


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
