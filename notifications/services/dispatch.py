"""Sending deliveries through the channel providers (to be completed: providers, consent,
frequency cap, quiet hours, leases, retries)."""

from django.db import transaction
from django.utils import timezone

from notifications.content import render
from notifications.models import Channel, Delivery, DeliveryStatus


def deliveries_send(*, message_id: int, first_recipient: int, last_recipient: int) -> int:
    """Send a batch's pending deliveries; the number sent."""
    from django.core.mail import send_mail

    sent = 0
    rows = Delivery.objects.filter(
        message_id=message_id,
        recipient_id__gte=first_recipient,
        recipient_id__lte=last_recipient,
        status=DeliveryStatus.PENDING,
    ).select_related("message", "recipient")
    for row in rows:
        if not Delivery.objects.filter(pk=row.pk, status=DeliveryStatus.PENDING).update(status=DeliveryStatus.SENDING):
            continue
        values = {**row.message.context, **row.context}
        if row.channel == Channel.EMAIL:
            send_mail(render(row.message.title, values), render(row.message.body, values), None, [row.recipient.email])
            with transaction.atomic():
                Delivery.objects.filter(pk=row.pk).update(status=DeliveryStatus.SENT, sent_at=timezone.now())
            sent += 1
        else:
            Delivery.objects.filter(pk=row.pk).update(status=DeliveryStatus.FAILED, last_error="no provider yet")
    return sent
