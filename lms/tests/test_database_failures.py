"""Which database errors answer 503 unavailable (the database is down) and which stay the
request's own. The whole path, a server whose PostgreSQL goes away, is in test_faults.py."""

import socket

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
from psycopg_pool import ConnectionPool, PoolTimeout

from lms.api.exceptions import database_unavailable, exception_handler


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _caught(call) -> BaseException:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the error under test, whatever it is
        return exc
    raise AssertionError("no error raised")


def _assert_unavailable(exc: BaseException) -> None:
    assert database_unavailable(exc)
    response = exception_handler(exc, {})
    assert response.status_code == 503
    assert response.data["code"] == "unavailable"
    assert response["Retry-After"].isdigit()


def test_a_refused_connection_answers_503_unavailable():
    def connect():
        with connection.wrap_database_errors:  # as Django raises it: its OperationalError over psycopg's
            psycopg.connect(host="127.0.0.1", port=_closed_port(), dbname="lms", connect_timeout=1)

    exc = _caught(connect)

    assert isinstance(exc, OperationalError)
    _assert_unavailable(exc)


def test_a_pool_that_gets_no_connection_in_time_answers_503_unavailable():
    conninfo = f"host=127.0.0.1 port={_closed_port()} dbname=lms connect_timeout=1"
    with ConnectionPool(conninfo, min_size=0, max_size=1, timeout=0.2, open=True) as pool:
        exc = _caught(pool.getconn)

    assert isinstance(exc, PoolTimeout)
    _assert_unavailable(exc)


@pytest.mark.django_db
def test_a_query_the_database_cancelled_is_not_called_unavailable():
    def slow_query():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 1")
            cursor.execute("SELECT pg_sleep(1)")

    exc = _caught(slow_query)

    assert isinstance(exc, OperationalError) and exc.__cause__.sqlstate == "57014"
    assert not database_unavailable(exc)
