"""Fixtures of the commerce tests: the e-commerce integration's client, with a real API key."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from commerce.hooks import register_order_hook, unregister_order_hook


@pytest.fixture
def integration_key(db) -> str:
    _, key = APIKey.objects.create_key(name="storefront")
    return key


def client_with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def integration_client(integration_key) -> APIClient:
    return client_with_key(integration_key)


@pytest.fixture
def order_hook():
    """``order_hook(fn)`` registers an order hook for the duration of the test."""
    registered = []

    def register(hook):
        registered.append(register_order_hook(hook))
        return hook

    yield register
    for hook in registered:
        unregister_order_hook(hook)


def run_concurrently(count: int, target: Callable[[int], Any]) -> list[Any]:
    """Call ``target(i)`` from ``count`` threads released together; their results in order."""
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
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results
