"""One typed registry for the extension points a higher app fills in a lower app's.

A lower app owns a ``Registry[T]``; a higher app registers into it from its
``AppConfig.ready()``, so imports keep running one way (DESIGN.md).
"""

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._items: dict[str, T] = {}

    def register(self, key: str, item: T) -> T:
        """Register ``item`` under ``key``; the same item again is a no-op, another one a mistake."""
        existing = self._items.get(key)
        if existing is not None and existing is not item:
            raise ValueError(f"{self.name}: {key!r} is already registered to {existing!r}")
        self._items[key] = item
        return item

    def unregister(self, key: str) -> None:
        self._items.pop(key, None)

    def get(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            raise KeyError(f"{self.name}: nothing is registered as {key!r} (known: {sorted(self._items)})") from None

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def values(self) -> tuple[T, ...]:
        """In the order they were registered: hooks run in the order the apps' ``ready()``
        registered them (INSTALLED_APPS order, lowest app first)."""
        return tuple(self._items.values())
