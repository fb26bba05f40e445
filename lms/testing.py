"""Helpers shared by the test suites of every app."""

import json
import re
import socket
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def assert_error(response, status: int, code: str) -> dict:
    """The response is the one error shape with this status and code; returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["details"], dict), body
    return body


# Threads released together queue for the pool's connections (20 by default). On a busy machine
# one may wait past the production 3 s (DATABASE_POOL_TIMEOUT), failing the test for the
# machine's load, not the code: while they run the pool waits this long.
RACE_POOL_TIMEOUT = 60.0


def run_concurrently(count: int, target: Callable[[int], Any]) -> list[Any]:
    """Call ``target(i)`` from ``count`` threads released together; their results in order."""
    pool = getattr(connection, "pool", None)  # Django's psycopg pool (PostgreSQL), else None
    timeout = pool.timeout if pool is not None else None
    if pool is not None:
        pool.timeout = max(timeout, RACE_POOL_TIMEOUT)
    try:
        return _race(count, target)
    finally:
        if pool is not None:
            pool.timeout = timeout


def _race(count: int, target: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = target(index)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=RACE_POOL_TIMEOUT + 30)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results


def list_cells(page: str, column: str) -> list[str]:
    """The text of a console list's cells in one column (``list_display`` name), top to bottom."""
    cells = re.findall(rf'<t[dh] class="field-{re.escape(column)}[" ][^>]*>(.*?)</t[dh]>', page, flags=re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
