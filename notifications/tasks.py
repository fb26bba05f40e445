"""Notification tasks, all on the ``notifications`` queue (settings.CELERY_TASK_ROUTES).

Nothing here goes to the ``otp`` queue: OTP and password mail are accounts' tasks, sent
through the lms outbox on their own queue so a bulk send never delays them.
"""

from celery import shared_task


@shared_task
def message_fanout_task(message_id: int) -> None:
    from notifications.services.messages import message_fanout

    message_fanout(message_id=message_id)


@shared_task
def deliveries_send_task(message_id: int, first_recipient: int, last_recipient: int) -> None:
    from notifications.services.dispatch import deliveries_send

    deliveries_send(message_id=message_id, first_recipient=first_recipient, last_recipient=last_recipient)


@shared_task
def deliveries_sweep_task() -> None:
    from notifications.services.dispatch import deliveries_sweep

    deliveries_sweep()
