"""Fixtures of the commerce tests."""

import pytest

from commerce.hooks import register_order_hook, unregister_order_hook


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
