"""Platform upkeep run by celery beat."""

from celery import shared_task


@shared_task
def outbox_sweep_task() -> int:
    """Every minute: publish outbox rows the on-commit dispatch could not (broker down)."""
    from lms.heartbeat import beat_heartbeat_record
    from lms.outbox import outbox_sweep

    beat_heartbeat_record()  # `manage.py doctor` tells a stopped beat by this stamp's age
    return outbox_sweep()


@shared_task
def records_prune_task() -> dict[str, int]:
    """Nightly: every app's rows past their retention age (lms/retention.py), in batches."""
    from django.conf import settings

    from lms.retention import records_prune

    return {result.name: result.deleted for result in records_prune(batch_size=settings.RETENTION_BATCH_SIZE)}
