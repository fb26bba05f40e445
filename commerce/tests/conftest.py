"""Fixtures of the commerce tests: the e-commerce integration's client, with a real API key."""

import pytest
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
