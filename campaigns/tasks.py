from celery import shared_task


@shared_task
def simulation_run_task(run_id: int) -> None:
    """A simulation over a large window (``campaigns.simulation.runs``); safe to deliver twice."""
    from campaigns.simulation.runs import simulation_execute

    simulation_execute(run_id=run_id)
