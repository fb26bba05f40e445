"""Copies of database state kept per process, tagged with a version in the shared cache.

The hot paths (cart evaluation, earning) read live campaigns, programs and the catalogue from
a copy held in the process instead of the database. A write calls ``SharedVersion.bump()``:
the version in the shared cache (Redis) moves now and again once the transaction commits (a
copy rebuilt in between read the old rows under the new version), so every process rebuilds
its copy on its next read. The writer's own process also moves a local generation, since with
the cache down the version cannot move. A copy is rebuilt after its time to live whatever
happens, which bounds what no bump announces (a category added under a targeted parent).
"""

import datetime as dt
import itertools
import uuid
from collections.abc import Callable
from typing import Generic, TypeVar

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")


class SharedVersion:
    """A version string in the shared cache, and this process's generation of it."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._generations = itertools.count(1)
        self.generation = 0

    def read(self) -> str | None:
        """The current version (made when missing); None when the cache is down."""
        version = cache.get(self.key)
        if version is None:
            cache.add(self.key, uuid.uuid4().hex, None)
            version = cache.get(self.key)
        return version

    def bump(self) -> None:
        """Every process rebuilds its copies now and again once this transaction commits."""

        def move() -> None:
            self.generation = next(self._generations)
            cache.set(self.key, uuid.uuid4().hex, None)

        move()
        transaction.on_commit(move)


class ProcessCopy(Generic[T]):
    """This process's copy of what ``build(version, now)`` reads, kept while ``version`` and
    its generation stay and for ``ttl``. ``reuse_without_version``: whether a copy may be
    served while the cache is down (no change can be announced then)."""

    def __init__(
        self,
        version: SharedVersion,
        ttl: dt.timedelta,
        build: Callable[[str | None, dt.datetime], T],
        *,
        reuse_without_version: bool = True,
    ) -> None:
        self.version = version
        self.ttl = ttl
        self.build = build
        self.reuse_without_version = reuse_without_version
        self._held: tuple[str | None, int, dt.datetime, T] | None = None

    def get(self, now: dt.datetime | None = None, version: str | None = None) -> T:
        """The copy, rebuilt when stale. ``version``: as already read from the cache (None:
        read it here)."""
        now = now or dt.datetime.now(dt.UTC)
        if version is None:
            version = self.version.read()
        generation, held = self.version.generation, self._held
        if (
            held is None
            or held[0] != version
            or held[1] != generation
            or (version is None and not self.reuse_without_version)
            or not (dt.timedelta(0) <= now - held[2] < self.ttl)
        ):
            held = (version, generation, now, self.build(version, now))
            self._held = held
        return held[3]

    def forget(self) -> None:
        self._held = None
