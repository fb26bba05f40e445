"""Notification tasks, all on the ``notifications`` queue (settings.CELERY_TASK_ROUTES)."""

from celery import shared_task


@shared_task
def message_fanout_task(message_id: int) -> None:
    from notifications.services.messages import message_fanout

    message_fanout(message_id=message_id)


@shared_task
def deliveries_send_task(message_id: int, first_recipient: int, last_recipient: int) -> None:
    from notifications.services.dispatch import deliveries_send

    deliveries_send(message_id=message_id, first_recipient=first_recipient, last_recipient=last_recipient)
