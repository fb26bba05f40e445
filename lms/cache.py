"""Django's Redis cache, failing soft: a cache that cannot reach Redis is an empty cache.

Nothing here stores truth (PostgreSQL does), so with Redis down a read is a miss, a write is
dropped and ``add`` answers "written" (its callers then do their work rather than skip it).
Only ``incr``/``decr``, whose callers count something (the throttles), raise
:class:`CacheUnavailable` so that the caller decides (the throttles let the request through).

After a failure the process leaves that Redis alone for a few seconds (``FAILURE_PAUSE`` in
the cache's OPTIONS, default ``PAUSE``): every operation answers at once, so a Redis that
times out costs one timeout per pause, not one per cache call. Failures are logged, at most
one line per kind every ``PAUSE`` seconds.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Unreachable, and also reachable but refusing (out of memory under noeviction, a read-only
# replica after a failover): either way the cache cannot serve, and nothing here is truth.
UNREACHABLE = (RedisError, OSError)
PAUSE = 5.0


class CacheUnavailable(Exception):
    """The cache could not count: Redis is unreachable."""


_last_logged: dict[str, float] = {}


def cache_failure_log(operation: str, exc: BaseException) -> None:
    """A warning that a cache use failed, at most one per operation every ``PAUSE`` seconds."""
    now = time.monotonic()
    if now - _last_logged.get(operation, -PAUSE) >= PAUSE:
        _last_logged[operation] = now
        logger.warning("cache unavailable, %s: %r", operation, exc)


class _Pause:
    """Per process and Redis location: until when to leave Redis alone."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.until = 0.0

    def active(self) -> bool:
        return time.monotonic() < self.until

    def failed(self, operation: str, exc: BaseException) -> None:
        self.until = time.monotonic() + self.seconds  # a float store: no lock needed between threads
        cache_failure_log(f"{operation} answered as a miss or no-op for {self.seconds:g} s", exc)


_pauses: dict[str, _Pause] = {}


class _Paused(RedisError):
    """Redis is being left alone after a recent failure."""


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        # OPTIONS["FAILURE_PAUSE"] (seconds, default PAUSE) is ours; the rest go to redis-py.
        options = dict(params.get("OPTIONS") or {})
        seconds = float(options.pop("FAILURE_PAUSE", PAUSE))
        super().__init__(server, {**params, "OPTIONS": options})
        self.pause = _pauses.setdefault(repr(self._servers), _Pause(seconds))

    def _soft(self, operation: str, call: Callable[[], Any], fallback: Any) -> Any:
        try:
            if self.pause.active():
                raise _Paused("skipped: Redis failed moments ago")
            return call()
        except _Paused:
            return fallback
        except UNREACHABLE as exc:
            self.pause.failed(operation, exc)
            return fallback

    def add(self, *args, **kwargs):
        return self._soft("add", lambda: super(RedisCache, self).add(*args, **kwargs), True)

    def get(self, key, default=None, version=None):
        return self._soft("get", lambda: super(RedisCache, self).get(key, default, version=version), default)

    def get_many(self, keys, version=None):
        return self._soft("get_many", lambda: super(RedisCache, self).get_many(keys, version=version), {})

    def has_key(self, key, version=None):
        return self._soft("has_key", lambda: super(RedisCache, self).has_key(key, version=version), False)

    def set(self, *args, **kwargs):
        return self._soft("set", lambda: super(RedisCache, self).set(*args, **kwargs), None)

    def set_many(self, data, *args, **kwargs):
        # Answers the keys that were not written.
        return self._soft("set_many", lambda: super(RedisCache, self).set_many(data, *args, **kwargs), list(data))

    def touch(self, *args, **kwargs):
        return self._soft("touch", lambda: super(RedisCache, self).touch(*args, **kwargs), False)

    def delete(self, *args, **kwargs):
        return self._soft("delete", lambda: super(RedisCache, self).delete(*args, **kwargs), False)

    def delete_many(self, *args, **kwargs):
        return self._soft("delete_many", lambda: super(RedisCache, self).delete_many(*args, **kwargs), None)

    def clear(self):
        return self._soft("clear", lambda: super(RedisCache, self).clear(), False)

    def incr(self, key, delta=1, version=None):  # decr() calls it too
        try:
            if self.pause.active():
                raise _Paused("skipped: Redis failed moments ago")
            return super().incr(key, delta, version=version)
        except UNREACHABLE as exc:
            if not isinstance(exc, _Paused):
                self.pause.failed("incr", exc)
            raise CacheUnavailable(f"incr failed: {exc!r}") from exc
