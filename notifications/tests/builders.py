"""Messages and deliveries for the API and console tests, written as the services write them."""

from datetime import timedelta
from itertools import count

from django.utils import timezone

from notifications.models import Channel, Delivery, DeliveryStatus, Message, Purpose

_keys = count(1)


def message(*, source_type: str = "promotion", source_id: str = "7", channels=("IN_APP",), **fields) -> Message:
    n = next(_keys)
    defaults = {
        "key": f"test:{n}",
        "title": "Diwali sale",
        "body": "Hi {{ first_name }}, 20% off",
        "image_url": "https://cdn.example.com/diwali.png",
        "cta_text": "Shop now",
        "cta_url": "https://shop.example.com/diwali",
        "purpose": Purpose.MARKETING,
        "audience": {"kind": "all"},
    }
    return Message.objects.create(
        source_type=source_type, source_id=source_id, channels=list(channels), **{**defaults, **fields}
    )


def delivery(msg: Message, recipient, *, channel: str = Channel.IN_APP, status: str = DeliveryStatus.SENT,
             age: timedelta = timedelta(0), **fields) -> Delivery:  # fmt: skip
    now = timezone.now() - age
    sent_at = now if status in (DeliveryStatus.SENT, DeliveryStatus.READ, DeliveryStatus.CLICKED) else None
    return Delivery.objects.create(
        message=msg,
        recipient=recipient,
        channel=channel,
        status=status,
        title=fields.pop("title", f"{msg.title} for {recipient.first_name}"),
        body=fields.pop("body", f"Hi {recipient.first_name}, 20% off"),
        context=fields.pop(
            "context",
            {"first_name": recipient.first_name, "last_name": recipient.last_name, "email": recipient.email},
        ),
        created_at=now,
        sent_at=fields.pop("sent_at", sent_at),
        **fields,
    )
