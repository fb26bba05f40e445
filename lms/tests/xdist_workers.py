"""Each pytest-xdist worker its own Redis databases (loaded by pytest.ini: ``-p lms.tests.xdist_workers``).

The tests clear the cache before and after each test (``cache.clear()`` is FLUSHDB) and purge
the broker's queues: two workers on one Redis database would wipe each other's throttle
counters, snapshot versions and queued tasks mid-test. Worker ``gwN`` moves every Redis URL
of the run down by ``2 * N`` databases: ``make test``'s 15 (cache) and 14 (broker) stay with
gw0, gw1 takes 13 and 12, gw2 11 and 10. A serial run (no xdist) keeps the URLs as given.

Why the environment, and this early: the settings (``CACHES``, ``CELERY_BROKER_URL``) are read
from it once, when pytest-django sets Django up in its own ``pytest_load_initial_conftests``,
before any conftest.py; Celery itself prefers a ``CELERY_BROKER_URL`` variable to its
configuration; and the tests' subprocesses (the real Celery workers of the kill test, the fault
tests' servers) inherit it. So one rewrite here, ahead of pytest-django, is seen by all of them.
PostgreSQL needs nothing: pytest-django gives each worker its own test database
(``test_<name>_gw0``, ``test_<name>_gw1``, ...).
"""

import os
from urllib.parse import urlsplit, urlunsplit

import pytest

# The variables that name a Redis database the run writes to or flushes.
REDIS_VARIABLES = ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL")
DATABASES_PER_WORKER = 2  # a cache and a broker


def redis_url_for_worker(url: str, worker: int) -> str:
    """``url`` with its database number moved down by ``DATABASES_PER_WORKER * worker``."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or worker == 0:
        return url
    given = parts.path.strip("/")
    database = int(given or 0) - DATABASES_PER_WORKER * worker
    if database < 0:
        raise pytest.UsageError(
            f"{url} leaves no Redis database for xdist worker gw{worker}: give a higher database "
            f"number (make test uses 15 and 14) or fewer workers (-n)."
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


def worker_number() -> int | None:
    """This process's xdist worker number (gw3: 3), None outside xdist's workers."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name.removeprefix("gw")) if name.startswith("gw") else None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # A wrapper runs before every plain implementation, pytest-django's (which reads the
    # settings) included; xdist sets PYTEST_XDIST_WORKER before the worker's config exists.
    worker = worker_number()
    if worker is not None:
        for variable in REDIS_VARIABLES:
            if os.environ.get(variable):
                os.environ[variable] = redis_url_for_worker(os.environ[variable], worker)
    return (yield)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs):
    # In the controller, before any worker starts: a worker count the given databases cannot
    # hold is refused with a message here (in a worker it would show only as a crash).
    for variable in REDIS_VARIABLES:
        if os.environ.get(variable):
            redis_url_for_worker(os.environ[variable], len(specs) - 1)
