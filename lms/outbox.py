"""Background work that never depends on the broker being up at the moment of the write.

``outbox_enqueue("segments.tasks.segment_refresh_task", segment.pk)`` writes an
:class:`~lms.models.OutboxTask` row in the caller's transaction and publishes it once that
transaction commits. A publish that fails (the broker is down) is logged and left to the
beat sweeper (:func:`outbox_sweep`, every minute), which retries with backoff; the caller's
answer is always the write's own.

Claiming: the on-commit dispatch and any number of sweepers lock a row with
``SELECT ... FOR UPDATE SKIP LOCKED`` and delete it in the transaction that publishes it, so
two of them never publish the same row at once. A publish that reached the broker but whose
transaction then failed to commit is published again by the sweeper: tasks are idempotent.

With ``task_always_eager`` (``make run``, the tests) the dispatch runs the task in-process,
as ``delay_on_commit`` did.
"""

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from lms.logs import TASK_HEADER, current_request_id
from lms.models import OutboxTask

logger = logging.getLogger(__name__)

# The on-commit dispatch normally publishes within milliseconds; the sweeper waits this long
# before it takes a row over.
SWEEP_GRACE = timedelta(seconds=30)
SWEEP_BATCH = 500
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


def outbox_enqueue(task: str, *args: Any, **kwargs: Any) -> OutboxTask:
    """Record ``task(*args, **kwargs)`` in the current transaction (or its own) and publish it
    on commit. Arguments must be JSON values (ids, strings), as Celery's would be."""
    _task(task)  # a misspelt name fails the write now, not every sweep from now on
    with transaction.atomic():
        row = OutboxTask.objects.create(
            task=task, args=list(args), kwargs=kwargs, request_id=current_request_id() or ""
        )
        transaction.on_commit(lambda: outbox_dispatch(task_id=row.pk))
    return row


def _backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * 2 ** min(attempts - 1, 16), BACKOFF_MAX)  # 2**16 * 30 s > BACKOFF_MAX


def _task(name: str):
    # A task's name is its dotted path (shared_task's default); importing it registers it.
    return import_string(name)


def _publish(row: OutboxTask) -> None:
    # One immediate reconnect covers a pooled connection the broker dropped when it restarted.
    # A refused connection fails at once and a broker that does not answer within the socket
    # timeout (CELERY_BROKER_TIMEOUT) is not retried: the sweeper does that, not the request.
    # (retry=False would be slower: it leaves reconnecting to redis-py's own backoff.)
    _task(row.task).apply_async(
        args=row.args,
        kwargs=row.kwargs,
        headers=_headers(row),
        retry=True,
        retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0},
    )


def _headers(row: OutboxTask) -> dict[str, str | None]:
    # The row's own request, not the sweeper's (none): the task logs under the request that wrote it.
    return {TASK_HEADER: row.request_id or None}


def _eager() -> bool:
    from lms.celery import app

    return bool(app.conf.task_always_eager)


def outbox_dispatch(*, task_id: int) -> bool:
    """Publish one row and delete it; ``False`` when another dispatcher holds or took it, or
    the publish failed (logged, the row kept for the sweeper with its attempt counted)."""
    return _dispatch(task_id) == SENT


SENT, SKIPPED, FAILED = "sent", "skipped", "failed"


def _dispatch(task_id: int) -> str:
    if _eager():
        # In-process: claim by deleting, then run outside any transaction, as on commit.
        row = OutboxTask.objects.filter(pk=task_id).first()
        if row is None or not OutboxTask.objects.filter(pk=task_id).delete()[0]:
            return SKIPPED
        _task(row.task).apply_async(args=row.args, kwargs=row.kwargs, headers=_headers(row))
        return SENT
    try:
        with transaction.atomic():
            row = OutboxTask.objects.select_for_update(skip_locked=True).filter(pk=task_id).first()
            if row is None:
                return SKIPPED
            row.delete()
            _publish(row)  # raising rolls the delete back: the row stays
    except Exception as exc:
        _attempt_failed(task_id=task_id, exc=exc)
        return FAILED
    return SENT


def _attempt_failed(*, task_id: int, exc: Exception) -> None:
    logger.warning("outbox: publishing task row %s failed, the sweeper retries it: %r", task_id, exc)
    try:
        row = OutboxTask.objects.filter(pk=task_id).first()
        if row is None:
            return
        attempts = row.attempts + 1
        # A conditional update: a concurrent dispatcher's count is not overwritten.
        OutboxTask.objects.filter(pk=task_id, attempts=row.attempts).update(
            attempts=attempts, last_error=repr(exc)[:1000], available_at=timezone.now() + _backoff(attempts)
        )
    except Exception:  # the database failing too: the row keeps its old schedule
        logger.exception("outbox: could not record the failed attempt of task row %s", task_id)


def outbox_sweep(*, now=None, grace: timedelta = SWEEP_GRACE, limit: int = SWEEP_BATCH) -> int:
    """Publish rows the on-commit dispatch did not (the broker was down, the process died),
    oldest first; stop at the first failure (the broker is still down). Returns how many."""
    now = now or timezone.now()
    due = OutboxTask.objects.filter(available_at__lte=now, created_at__lte=now - grace).order_by("pk")
    sent = 0
    for task_id in due.values_list("pk", flat=True)[:limit]:
        result = _dispatch(task_id)
        if result == FAILED:
            break  # the broker is still down: the rest would fail too
        sent += result == SENT
    return sent
