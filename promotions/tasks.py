"""Promotion tasks (beat)."""

from celery import shared_task


@shared_task
def promotions_send_due_task() -> int:
    """Every minute: send the scheduled promotions whose time has come, then mark the ones
    whose message has fanned out as SENT."""
    from promotions.services import promotions_send_due, promotions_settle

    sent = promotions_send_due()
    promotions_settle()
    return sent
