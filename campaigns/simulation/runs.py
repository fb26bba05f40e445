"""Simulation runs: start one (inline for a small window, else as a task), run it, poll it.

Which replay serves a campaign is looked up by its kind in ``replays``: campaigns registers
the discount kinds here, loyalty its programs from ``LoyaltyConfig.ready()`` (a lower app never
imports a higher one). A run writes nothing but its own row.
"""

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign, CampaignKind, SimulationRun, SimulationStatus
from campaigns.simulation.orders import orders_count
from campaigns.simulation.replay import campaign_replay
from lms.errors import Conflict, Invalid
from lms.outbox import outbox_enqueue
from lms.registry import Registry

logger = logging.getLogger(__name__)

MIN_DAYS, MAX_DAYS = 1, 365
# A run RUNNING this long is taken to have died with its worker: a redelivered task may take it over.
STALE_AFTER = dt.timedelta(minutes=15)

Replay = Callable[..., dict[str, Any]]  # (campaign, *, since, until, progress) -> result
replays: Registry[Replay] = Registry("simulation replays")
replays.register(CampaignKind.DISCOUNT_COUPON, campaign_replay)
replays.register(CampaignKind.FREE_SHIPPING, campaign_replay)

TASK = "campaigns.tasks.simulation_run_task"


def window_of(run: SimulationRun) -> tuple[dt.datetime, dt.datetime]:
    """The run's orders: the ``days`` before it was asked for."""
    return run.created_at - dt.timedelta(days=run.days), run.created_at


def days_check(days: Any) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise Invalid("invalid", f"days must be a whole number from {MIN_DAYS} to {MAX_DAYS}.", path="days")
    return days


def simulation_start(*, campaign: Campaign, days: int, user_id: int | None) -> SimulationRun:
    """A new run over the last ``days`` of counted orders: done when it answers for a window of
    at most ``SIMULATION_INLINE_MAX_ORDERS`` orders, else PENDING with its task enqueued."""
    days = days_check(days)
    if campaign.archived:
        raise Conflict("campaign_archived", "An archived campaign cannot be simulated; copy it to a new one.")
    if campaign.kind not in replays:
        raise Conflict("not_simulated", f"Campaigns of kind {campaign.get_kind_display()} cannot be simulated.")
    with transaction.atomic():
        run = SimulationRun.objects.create(campaign=campaign, days=days, created_by_id=user_id)
        since, until = window_of(run)
        run.orders_total = orders_count(since, until)
        run.save(update_fields=["orders_total"])
        if run.orders_total > settings.SIMULATION_INLINE_MAX_ORDERS:
            outbox_enqueue(TASK, run.pk)
            return run
    try:
        simulation_execute(run_id=run.pk)
    except Exception:  # recorded on the run (FAILED, with its error) and logged: answered like a task's failure
        pass
    run.refresh_from_db()
    return run


def _claim(run_id: int) -> bool:
    """PENDING (or RUNNING and stale) -> RUNNING; False when another worker has it or it is done."""
    now = timezone.now()
    # A conditional update: two deliveries of the same task never run it side by side.
    return bool(
        SimulationRun.objects.filter(
            Q(status=SimulationStatus.PENDING) | Q(status=SimulationStatus.RUNNING, started_at__lt=now - STALE_AFTER),
            pk=run_id,
        ).update(status=SimulationStatus.RUNNING, started_at=now, progress=0)
    )


def simulation_execute(*, run_id: int) -> None:
    """Replay the run's campaign over its window, recording progress per batch and the result
    (or the failure) on the run. Idempotent: a run done or held by another worker is left alone."""
    if not _claim(run_id):
        return
    run = SimulationRun.objects.select_related("campaign").get(pk=run_id)
    since, until = window_of(run)
    total, last = max(run.orders_total, 1), [0]

    def progress(done: int) -> None:
        percent = min(99, done * 100 // total)
        if percent != last[0]:
            last[0] = percent
            SimulationRun.objects.filter(pk=run_id).update(progress=percent)

    started = timezone.now()
    try:
        result = replays.get(run.campaign.kind)(run.campaign, since=since, until=until, progress=progress)
    except Exception as error:  # recorded for the poller, then re-raised for the worker's log
        SimulationRun.objects.filter(pk=run_id).update(
            status=SimulationStatus.FAILED, error=str(error)[:255], finished_at=timezone.now()
        )
        logger.exception("simulation %s failed", run_id)
        raise
    finished = timezone.now()
    result["elapsed_ms"] = round((finished - started).total_seconds() * 1000)
    SimulationRun.objects.filter(pk=run_id).update(
        status=SimulationStatus.DONE, progress=100, result=result, finished_at=finished
    )


def simulation_latest(campaign: Campaign) -> SimulationRun | None:
    """The campaign's most recent run (the console shows its result)."""
    return SimulationRun.objects.filter(campaign=campaign).order_by("-created_at", "-id").first()
