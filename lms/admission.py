"""Admission control: a web process that is over its queue limit answers ``503 overloaded`` at
once, instead of letting requests wait until their clients give up.

gunicorn's gthread worker accepts connections into its thread pool's queue. Past the rate its
threads can serve, that queue grows and so does every request's wait, until clients time out
on answers the server still computes: all of the work is done, little of it is of use. The
``pre_request`` hook of gunicorn.conf.py runs in the thread about to serve a request and notes
here how many requests of the process are still waiting for a thread; the middleware, first
in line after CORS, sheds the request before any database or cache work when more than
``ADMISSION_QUEUE_PER_THREAD`` per thread are waiting. A shed answer costs about a
millisecond, so the queue drains and the requests admitted wait at most a few service times.
The request shed is the oldest in line (threads take the queue in order), the one likeliest
to have outlived its client anyway. Probes are never shed: a busy process is alive and ready.

Under another server (runserver, the test client) nothing is noted and nothing is shed.
"""

import logging
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


_noted = threading.local()


def queue_note(*, waiting: int, threads: int) -> None:
    """Called by the server hook, in the thread that is about to run the request."""
    _noted.queue = Queue(waiting=waiting, threads=threads)


def queue_take() -> Queue | None:
    """What the hook noted for this thread's current request (once: a request served without
    the hook, by another server, never sees an earlier request's figure)."""
    queue = getattr(_noted, "queue", None)
    _noted.queue = None
    return queue


def gunicorn_queue(worker: Any) -> Queue:
    """The requests queued for a thread in a gunicorn gthread worker (0 for another worker
    class, which has no such queue)."""
    pool = getattr(worker, "tpool", None)
    work_queue = getattr(pool, "_work_queue", None)
    waiting = work_queue.qsize() if work_queue is not None else 0
    return Queue(waiting=waiting, threads=max(1, int(getattr(worker.cfg, "threads", 1) or 1)))


def admission_refused(*, queue: Queue | None, path: str, per_thread: int, exempt: frozenset[str]) -> bool:
    """Shed this request? Only when the server noted a queue longer than ``per_thread`` waiting
    requests per thread, and never for an exempt path (the probes)."""
    if queue is None or path.rstrip("/") in exempt:
        return False
    return queue.waiting > per_thread * queue.threads


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
        self.per_thread = settings.ADMISSION_QUEUE_PER_THREAD
        self.retry_after = settings.ADMISSION_RETRY_AFTER
        self.exempt = frozenset(path.rstrip("/") for path in settings.ADMISSION_EXEMPT_PATHS)
        self._lock = threading.Lock()
        self._shed_since_log = 0
        self._last_log = 0.0

    def __call__(self, request: HttpRequest) -> HttpResponse:
        queue = queue_take()
        if admission_refused(queue=queue, path=request.path, per_thread=self.per_thread, exempt=self.exempt):
            assert queue is not None
            self._count_shed(queue)
            return overloaded_response(self.retry_after)
        return self.get_response(request)

    def _count_shed(self, queue: Queue) -> None:
        now = time.monotonic()
        with self._lock:
            self._shed_since_log += 1
            if now - self._last_log < SHED_LOG_INTERVAL:
                return
            shed, self._shed_since_log, self._last_log = self._shed_since_log, 0, now
        logger.warning(
            "Overloaded: shed %d request(s) with 503 since the last report; %d waiting for %d thread(s), limit %d.",
            shed,
            queue.waiting,
            queue.threads,
            self.per_thread * queue.threads,
        )
