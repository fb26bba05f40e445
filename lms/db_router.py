"""Reads that may go to a read replica (``REPLICA_URL``), and only inside an explicit scope.

``with replica_reads():`` (or ``@replica_reads`` on a function or a generator function) sends
the ORM's reads made inside it to the ``replica`` database; everything else, and every write
anywhere, goes to ``default``. The scope is a context variable, so it covers one request's
thread (or one task) and nothing around it.

Why a scope and not a global read/write split: a replica lags its primary (milliseconds to
seconds, more under load), and the API must read its own writes (a checkout then the wallet,
a segment saved then listed). Only the heavy reads that tolerate a few seconds' staleness opt
in: segment refresh's evaluation, the console's reports and dashboard, and the CSV exports.

Without ``REPLICA_URL`` the scope changes nothing. When the replica does not answer, the
scope reads from the primary and logs a warning (a report is slower, not broken), then leaves
the replica alone for ``REPLICA_RETRY_SECONDS`` so each report does not wait for its timeout.
"""

import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

REPLICA = "replica"

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The alias reads go to in the current scope; None outside every scope.
_reads_from: ContextVar[str | None] = ContextVar("lms_replica_reads", default=None)

_failed_at_lock = threading.Lock()
_failed_at: float | None = None  # monotonic time of the last failed connection to the replica


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def _replica_answers() -> bool:
    global _failed_at
    with _failed_at_lock:
        if _failed_at is not None and time.monotonic() - _failed_at < settings.REPLICA_RETRY_SECONDS:
            return False
    try:
        # A connection the pool hands out has just answered its health check
        # (CONN_HEALTH_CHECKS); one already open in this thread is used as it is.
        connections[REPLICA].ensure_connection()
        return True
    except DatabaseError as error:
        with _failed_at_lock:
            _failed_at = time.monotonic()
        logger.warning(
            "Read replica unavailable, reading from the primary for %s s: %s",
            settings.REPLICA_RETRY_SECONDS,
            str(error).strip() or type(error).__name__,
        )
        return False


def replica_retry_now() -> None:
    """Forget a failed connection: the next scope tries the replica again (tests, operators)."""
    global _failed_at
    with _failed_at_lock:
        _failed_at = None


def read_alias() -> str:
    """Where the ORM's reads go right now: the scope's database, else ``default``."""
    return _reads_from.get() or DEFAULT_DB_ALIAS


def _scope_alias() -> str:
    current = _reads_from.get()
    if current is not None:
        return current
    return REPLICA if replica_configured() and _replica_answers() else DEFAULT_DB_ALIAS


class replica_reads:
    """The scope: reads inside go to the replica when one is configured and answers.

    ``with replica_reads() as alias:`` names the database chosen. As a decorator
    (``@replica_reads()``) of a generator function (a CSV export's rows), each step of the
    generator runs inside the scope and the caller's code between steps does not: a streamed
    response is iterated after the view has returned, so a ``with`` around the view would end
    before the rows are read."""

    def __enter__(self) -> str:
        alias = _scope_alias()
        self._token = _reads_from.set(alias)
        return alias

    def __exit__(self, *exc_info: Any) -> None:
        _reads_from.reset(self._token)

    def __call__(self, function: Callable[..., T]) -> Callable[..., T]:
        if inspect.isgeneratorfunction(function):

            @functools.wraps(function)
            def steps(*args: Any, **kwargs: Any):
                return replica_iter(function(*args, **kwargs))

            return steps

        @functools.wraps(function)
        def scoped(*args: Any, **kwargs: Any) -> T:
            with replica_reads():
                return function(*args, **kwargs)

        return scoped


def replica_iter(rows: Iterable[T]) -> Iterator[T]:
    """``rows`` (a queryset, its ``.iterator()``, a generator) read step by step inside the
    scope. The database is chosen once, at the first step: the replica is not asked whether it
    answers for every row."""
    iterator: Iterator[T] | None = None
    alias: str | None = None
    try:
        while True:
            alias = alias or _scope_alias()
            token = _reads_from.set(alias)
            try:
                # iter() inside the scope: a queryset runs its query when iteration starts.
                iterator = iter(rows) if iterator is None else iterator
                row = next(iterator)
            except StopIteration:
                return
            finally:
                _reads_from.reset(token)
            yield row
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


class ReplicaRouter:
    """``DATABASE_ROUTERS``: reads where the scope says, writes and migrations on ``default``.

    Outside a scope reads name ``default`` outright: an object read from the replica inside a
    scope and used after it (its related objects, a refresh) reads the primary again."""

    def db_for_read(self, model, **hints) -> str:
        return read_alias()

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        same_data = {DEFAULT_DB_ALIAS, REPLICA}
        return True if {obj1._state.db, obj2._state.db} <= same_data else None

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS
