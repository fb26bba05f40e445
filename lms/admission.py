"""Admission control: a web process that is overloaded answers ``503 overloaded`` at once,
instead of letting requests wait until their clients give up.

gunicorn's gthread worker accepts connections into its thread pool's queue. Past the rate its
threads can serve, that queue grows and so does every request's wait, until clients time out
on answers the server still computes: all of the work is done, little of it is of use. The
``pre_request`` hook of gunicorn.conf.py runs in the thread about to serve a request and notes
here how long the request waited in that queue (the pool's ``submit`` is wrapped to stamp each
job) and how many requests are still waiting behind it. The middleware, first in line after
CORS, sheds the request before any database or cache work when the requests taken have all
waited longer than ``ADMISSION_MAX_WAIT_MS`` for ``ADMISSION_WAIT_INTERVAL_MS`` (a standing
queue, CoDel's test: a short stall sheds nothing), or when more than
``ADMISSION_QUEUE_PER_THREAD`` per thread wait behind it (the backstop for a request without a
stamp). A shed answer costs about a
millisecond, so the queue drains and what is admitted is answered within about the wait
limit plus its own time. The request shed is the oldest in line, the one likeliest to have
outlived its client anyway. Probes are never shed: a busy process is alive and ready.

Under another server (runserver, the test client) nothing is noted and nothing is shed.
"""

import logging
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse, JsonResponse

from lms.api.exceptions import error_body

logger = logging.getLogger(__name__)

# Seconds between two log lines about shedding: under overload one line per answer would add
# to the load it reports.
SHED_LOG_INTERVAL = 10.0


@dataclass(frozen=True)
class Queue:
    """What the server told about the request's process when a thread took it."""

    waiting: int
    threads: int
    waited: float | None = None  # seconds in the queue; None when unknown


_noted = threading.local()


def queue_note(*, waiting: int, threads: int, waited: float | None = None) -> None:
    """Called by the server hook, in the thread that is about to run the request."""
    _noted.queue = Queue(waiting=waiting, threads=threads, waited=waited)


def queue_take() -> Queue | None:
    """What the hook noted for this thread's current request (once: a request served without
    the hook, by another server, never sees an earlier request's figure)."""
    queue = getattr(_noted, "queue", None)
    _noted.queue = None
    return queue


_install_lock = threading.Lock()


def _fresh_and_silent(conn: Any) -> bool:
    """A new connection whose client has not sent its request yet: its time in the queue may
    be the client's slowness, not the server's, so it gets no stamp."""
    if getattr(conn, "initialized", True) or getattr(conn, "data_ready", True):
        return False
    # poll, not select: a busy process holds more than select's 1,024 descriptors.
    poller = select.poll()
    try:
        poller.register(conn.sock, select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return True


def _run_stamped(queued_at: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    _noted.queued_at = None if args and _fresh_and_silent(args[0]) else queued_at
    try:
        return fn(*args, **kwargs)
    finally:
        _noted.queued_at = None


def gunicorn_stamp(worker: Any) -> None:
    """Stamp every job a gthread worker queues for its threads with the time it was queued
    (once per process; another worker class has no pool and is left alone)."""
    pool = getattr(worker, "tpool", None)
    if pool is None or getattr(pool, "lms_stamped", False):
        return
    with _install_lock:
        if getattr(pool, "lms_stamped", False):
            return
        submit = pool.submit

        def stamped_submit(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            return submit(_run_stamped, time.monotonic(), fn, *args, **kwargs)

        pool.submit = stamped_submit
        pool.lms_stamped = True


def gunicorn_queue(worker: Any) -> Queue:
    """The request's wait and the requests queued behind it in a gunicorn gthread worker
    (nothing waits in another worker class, which has no such queue)."""
    pool = getattr(worker, "tpool", None)
    work_queue = getattr(pool, "_work_queue", None)
    waiting = work_queue.qsize() if work_queue is not None else 0
    queued_at = getattr(_noted, "queued_at", None)
    waited = time.monotonic() - queued_at if queued_at is not None else None
    threads = max(1, int(getattr(worker.cfg, "threads", 1) or 1))
    return Queue(waiting=waiting, threads=threads, waited=waited)


class StandingQueue:
    """CoDel's test for a queue that stands rather than a burst that passes: every request
    taken for a whole ``interval`` waited longer than ``target``. A short stall (a collection,
    a neighbour's burst on the cpu) makes a few requests wait without the process being over
    its capacity; shedding them would only lose answers that were on time."""

    def __init__(self, *, target: float, interval: float) -> None:
        self.target, self.interval = target, interval
        self._lock = threading.Lock()
        self._above_since: float | None = None

    def over(self, *, waited: float | None, now: float) -> bool:
        if waited is None:  # unknown: says nothing about the queue
            return False
        with self._lock:
            if waited <= self.target:
                self._above_since = None
                return False
            if self._above_since is None:
                self._above_since = now
            return now - self._above_since >= self.interval


def admission_refused(
    *, queue: Queue | None, path: str, standing: bool, per_thread: int, exempt: frozenset[str]
) -> bool:
    """Shed this request? Only when the server noted it, with waits over the limit for the
    interval (``standing``, see :class:`StandingQueue`) or more than ``per_thread`` requests
    per thread waiting behind it; never for an exempt path (the probes)."""
    if queue is None or path.rstrip("/") in exempt:
        return False
    return standing or queue.waiting > per_thread * queue.threads


def overloaded_response(retry_after: int) -> JsonResponse:
    response = JsonResponse(
        error_body(
            "overloaded",
            f"The server is busy; retry in {retry_after} second{'s' if retry_after != 1 else ''}.",
            {"retry_after": retry_after},
        ),
        status=503,
    )
    response["Retry-After"] = str(retry_after)
    return response


class AdmissionMiddleware:
    """Answers ``503 overloaded`` with ``Retry-After`` when the server hook noted a queue over
    the limit (see the module's docstring). ``ADMISSION_ENABLED=false`` takes it out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.ADMISSION_ENABLED:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.max_wait = settings.ADMISSION_MAX_WAIT_MS / 1000
        self.standing = StandingQueue(target=self.max_wait, interval=settings.ADMISSION_WAIT_INTERVAL_MS / 1000)
        self.per_thread = settings.ADMISSION_QUEUE_PER_THREAD
        self.retry_after = settings.ADMISSION_RETRY_AFTER
        self.exempt = frozenset(path.rstrip("/") for path in settings.ADMISSION_EXEMPT_PATHS)
        self._lock = threading.Lock()
        self._shed_since_log = 0
        self._last_log = 0.0

    def __call__(self, request: HttpRequest) -> HttpResponse:
        queue = queue_take()
        standing = queue is not None and self.standing.over(waited=queue.waited, now=time.monotonic())
        if admission_refused(
            queue=queue, path=request.path, standing=standing, per_thread=self.per_thread, exempt=self.exempt
        ):
            assert queue is not None
            self._count_shed(queue)
            response = overloaded_response(self.retry_after)
            # Django would log each 5xx answer as an error: one line per shed request, more
            # work while overloaded. The periodic line of _count_shed reports them instead.
            response._has_been_logged = True  # type: ignore[attr-defined]
            return response
        return self.get_response(request)

    def _count_shed(self, queue: Queue) -> None:
        now = time.monotonic()
        with self._lock:
            self._shed_since_log += 1
            if now - self._last_log < SHED_LOG_INTERVAL:
                return
            shed, self._shed_since_log, self._last_log = self._shed_since_log, 0, now
        waited = f"{queue.waited * 1000:.0f} ms" if queue.waited is not None else "unknown"
        logger.warning(
            "Overloaded: shed %d request(s) with 503 since the last report; the last waited %s (limit %.0f ms) "
            "with %d more waiting for %d thread(s) (limit %d).",
            shed,
            waited,
            self.max_wait * 1000,
            queue.waiting,
            queue.threads,
            self.per_thread * queue.threads,
        )
