"""A small typed registry: keys to things, in the order registered (the engine imports only
the standard library, so it has its own rather than ``lms``'s)."""

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._items: dict[str, T] = {}

    def register(self, key: str, item: T) -> T:
        if key in self._items:
            raise ValueError(f"{self.name}: {key!r} is registered twice.")
        self._items[key] = item
        return item

    def unregister(self, key: str) -> None:
        self._items.pop(key, None)

    def __getitem__(self, key: str) -> T:
        return self._items[key]

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    @property
    def by_key(self) -> dict[str, T]:
        """The registered items by key (read it, do not change it: ``register`` does)."""
        return self._items

    def keys(self) -> list[str]:
        return list(self._items)
