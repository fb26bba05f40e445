"""Redis down: the cache fails soft (lms/cache.py) and the throttles let requests through."""

import socket
import time

import pytest
from django.core.cache import cache

from accounts.tests.factories import DEFAULT_PASSWORD
from campaigns.tests.factories import CampaignFactory
from lms.cache import CacheUnavailable
from lms.tests.proxy import SilentServer

FAST = 2.0  # seconds a request may take with Redis down


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket closes


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0"}}


def test_with_redis_down_reads_miss_writes_are_dropped_and_counting_says_so(redis_down):
    assert cache.get("key", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.set("key", "value", 10) is None
    assert cache.add("key", "value", 10) is True  # treated as written: callers do the work
    assert cache.delete("key") is False
    with pytest.raises(CacheUnavailable):
        cache.incr("counter")


@pytest.mark.django_db
def test_with_redis_down_throttled_reads_and_writes_that_need_only_postgresql_work(
    redis_down, api_client, customer, customer_client, integration_client
):
    CampaignFactory(name="Ten off")
    cart = {"lines": [{"sku": "TEE", "quantity": 2, "unit_price": "500.00"}]}
    calls = [
        (customer_client.get, "/api/v1/me", None, 200),  # UserRateThrottle (DRF's history)
        (api_client.get, "/api/v1/campaigns/", None, 401),  # AnonRateThrottle
        (integration_client.post, "/api/v1/cart/evaluate", cart, 200),  # the campaigns snapshot
        (api_client.post, "/api/v1/auth/otp/send", {"email": "new@example.com"}, 202),  # atomic windows
        (api_client.post, "/api/v1/auth/signin", {"email": customer.email, "password": "wrong"}, 401),
        (api_client.post, "/api/v1/auth/signin", {"email": customer.email, "password": DEFAULT_PASSWORD}, 200),
    ]

    for call, path, body, expected in calls:
        started = time.monotonic()
        response = call(path, body, format="json") if body is not None else call(path)
        elapsed = time.monotonic() - started

        assert response.status_code == expected, (path, response.content)
        assert elapsed < FAST, f"{path} took {elapsed:.1f} s with Redis down"
    assert integration_client.post("/api/v1/cart/evaluate", cart, format="json").json()["total_discount"] == "100.00"


def test_a_redis_that_never_answers_costs_one_timeout_then_misses_at_once(settings):
    silent = SilentServer()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{silent.port}/0"}}
    try:
        started = time.monotonic()
        answers = [cache.get(f"key-{n}", "miss") for n in range(20)]
        elapsed = time.monotonic() - started
    finally:
        silent.stop()

    assert answers == ["miss"] * 20
    assert elapsed < 2 * settings.REDIS_TIMEOUT, f"20 reads took {elapsed:.1f} s"
