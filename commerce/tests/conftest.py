"""Fixtures of the commerce tests."""

import pytest

from commerce.hooks import order_batch_hooks


@pytest.fixture
def order_hook():
    """``order_hook(fn)`` calls ``fn`` on each order change, for the duration of the test (an
    order batch hook that goes through its batch one change at a time)."""
    keys: list[str] = []

    def register(hook):
        def each_change(changes) -> None:
            for change in changes:
                hook(change)

        keys.append(f"test-{len(keys)}-{hook.__name__}")
        order_batch_hooks.register(keys[-1], each_change)
        return hook

    yield register
    for key in keys:
        order_batch_hooks.unregister(key)
