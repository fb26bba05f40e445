"""The test run's own plumbing: each pytest-xdist worker its own Redis databases
(lms/tests/xdist_workers.py)."""

import pytest

from lms.tests.xdist_workers import redis_url_for_worker


@pytest.mark.parametrize(
    ("worker", "expected"),
    [(0, "redis://127.0.0.1:6379/15"), (1, "redis://127.0.0.1:6379/13"), (7, "redis://127.0.0.1:6379/1")],
)
def test_each_worker_moves_the_database_down_by_two(worker, expected):
    assert redis_url_for_worker("redis://127.0.0.1:6379/15", worker) == expected


def test_the_cache_and_the_broker_of_one_worker_never_meet_another_workers():
    given = ("redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/14")

    used = [redis_url_for_worker(url, worker) for worker in range(4) for url in given]

    assert len(set(used)) == len(used) == 8


def test_credentials_and_options_are_kept():
    url = "rediss://:secret@redis.example:6380/9?ssl_cert_reqs=none"

    assert redis_url_for_worker(url, 2) == "rediss://:secret@redis.example:6380/5?ssl_cert_reqs=none"


def test_a_url_that_is_not_redis_is_left_alone():
    assert redis_url_for_worker("memory://", 3) == "memory://"


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379", "redis://127.0.0.1:6379/"])
def test_a_worker_left_without_a_database_is_refused(url):
    with pytest.raises(pytest.UsageError, match="no Redis database for xdist worker gw1"):
        redis_url_for_worker(url, 1)
