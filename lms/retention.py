"""Data retention: each app registers what of its own tables may go, lms deletes it in batches.

An owning app registers a :class:`Pruner` from its ``AppConfig.ready()``: the setting that holds
the age in days (``RETENTION_*_DAYS``; 0 keeps the rows forever) and a function returning the
rows past a cutoff that can never matter again. :func:`records_prune` (the ``prune_records``
command and the nightly beat job) walks every pruner by primary key, a batch per short
transaction, so a big backlog never holds locks for long and an interrupted run simply
continues on the next one.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from tqdm import tqdm

from lms.registry import Registry

DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = 10_000


@dataclass(frozen=True)
class Pruner:
    """``stale(cutoff)`` returns the rows that may be deleted; it is applied again inside each
    batch's transaction, so a row that changed since it was listed is left alone."""

    label: str  # what is pruned, for people: "login events"
    stale: Callable[[datetime], QuerySet]
    setting: str | None = None  # None: the rows carry their own expiry (cutoff = now)
    min_days: int = 1  # a shorter age would delete rows a feature still reads


pruners: Registry[Pruner] = Registry("retention pruners")


@dataclass(frozen=True)
class PruneResult:
    name: str
    label: str
    days: int | None  # None: by the rows' own expiry
    deleted: int  # with dry_run, how many would be
    kept_forever: bool = False


def retention_days(pruner: Pruner) -> int | None:
    """The configured age; ImproperlyConfigured when it is below what the pruner allows."""
    if pruner.setting is None:
        return None
    days = getattr(settings, pruner.setting)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ImproperlyConfigured(f"{pruner.setting} must be a whole number of days, 0 to keep forever.")
    if days and days < pruner.min_days:
        raise ImproperlyConfigured(
            f"{pruner.setting}={days} is below its minimum of {pruner.min_days} days (0 keeps {pruner.label} forever)."
        )
    return days


def retention_check() -> list[str]:
    """Every misconfigured retention setting, as messages (the doctor's and the command's)."""
    problems = []
    for _, pruner in pruners.items():
        try:
            retention_days(pruner)
        except ImproperlyConfigured as exc:
            problems.append(str(exc))
    return problems


def _batch_delete(pruner: Pruner, cutoff: datetime, ids: list[int]) -> int:
    rows = pruner.stale(cutoff).filter(pk__in=ids)
    with transaction.atomic():
        _, per_model = rows.delete()
    # Rows cascading with them (a blacklisted token with its token) are not counted.
    return per_model.get(rows.model._meta.label, 0)


def _prune_one(
    name: str, pruner: Pruner, *, now: datetime, batch_size: int, dry_run: bool, progress: bool
) -> PruneResult:
    days = retention_days(pruner)
    if days == 0:
        return PruneResult(name, pruner.label, days, 0, kept_forever=True)
    cutoff = now - timedelta(days=days or 0)
    stale = pruner.stale(cutoff)
    if dry_run:
        return PruneResult(name, pruner.label, days, stale.count())
    deleted, after = 0, 0
    with tqdm(total=stale.count(), desc=name, unit="rows", disable=not progress) as bar:
        while ids := list(stale.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size]):
            deleted += _batch_delete(pruner, cutoff, ids)
            after = ids[-1]
            bar.update(len(ids))
    return PruneResult(name, pruner.label, days, deleted)


def records_prune(
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    progress: bool = False,
    now: datetime | None = None,
) -> list[PruneResult]:
    """Delete every registered pruner's stale rows (or count them, with ``dry_run``).

    Every setting is validated before anything is deleted: a mistyped age stops the whole run.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}.")
    problems = retention_check()
    if problems:
        raise ImproperlyConfigured(" ".join(problems))
    now = now or timezone.now()
    return [
        _prune_one(name, pruner, now=now, batch_size=batch_size, dry_run=dry_run, progress=progress)
        for name, pruner in pruners.items()
    ]
