from celery import shared_task


@shared_task
def refusals_rollup_task() -> int:
    """Every few minutes: the live refusal counters into the table (idempotent)."""
    from campaigns.refusals import refusals_rollup

    return refusals_rollup()
