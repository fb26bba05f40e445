"""Platform upkeep run by celery beat."""

from celery import shared_task


@shared_task
def outbox_sweep_task() -> int:
    """Every minute: publish outbox rows the on-commit dispatch could not (broker down)."""
    from lms.outbox import outbox_sweep

    return outbox_sweep()
