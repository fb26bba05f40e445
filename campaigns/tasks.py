from celery import shared_task


@shared_task
def simulation_run_task(run_id: int) -> None:
    """A simulation over a large window (``campaigns.simulation.runs``); safe to deliver twice."""
    from campaigns.simulation.runs import simulation_execute

    simulation_execute(run_id=run_id)


@shared_task
def refusals_rollup_task() -> int:
    """Every few minutes: the live refusal counters into the table (idempotent)."""
    from campaigns.refusals import refusals_rollup

    return refusals_rollup()


@shared_task
def revenue_days_rollup_task() -> int:
    """Every few minutes: the closed days whose orders or checkouts changed into RevenueDay (idempotent)."""
    from campaigns.revenue_days import revenue_days_rollup

    return revenue_days_rollup()
