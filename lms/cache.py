"""Django's Redis cache, failing soft: a cache that cannot reach Redis is an empty cache.

Nothing here stores truth (PostgreSQL does), so with Redis down a read is a miss, a write is
dropped and ``add`` answers "written" (its callers then do their work rather than skip it).
Only ``incr``/``decr``, whose callers count something (the throttles), raise
:class:`CacheUnavailable` so that the caller decides (the throttles let the request through).

After a failure the process leaves that Redis alone for a few seconds (``FAILURE_PAUSE`` in
the cache's OPTIONS, default ``PAUSE``): every operation answers at once, so a Redis that
times out costs one timeout per pause, not one per cache call. Failures are logged, at most
one line per kind every ``PAUSE`` seconds.

Django's client builds a redis-py client per operation; here each process keeps one per
server and options (a redis-py client is thread-safe: it borrows a pooled connection per
command). :func:`counters_take` counts in windows and reads keys in one round trip, and
:func:`counters_give_back` gives slots back in one: the hot paths' throttles use them.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
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


_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()

# Gives ``ARGV[1]`` back to each counter that still exists (a window that ended took its
# counter with it: decrementing would make a new one, without expiry).
GIVE_BACK = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECRBY', key, ARGV[1]) end
end
return 0
"""


class PooledRedisCacheClient(RedisCacheClient):
    """Django's client, with one redis-py client (and pool) per process, server and options
    instead of a client per operation and a pool per thread."""

    def get_client(self, key=None, *, write=False):
        server = self._servers[self._get_connection_pool_index(write)]
        ident = (server, repr(sorted(self._pool_options.items(), key=lambda item: item[0])))
        client = _clients.get(ident)
        if client is None:
            with _clients_lock:
                client = _clients.get(ident)
                if client is None:
                    pool = self._pool_class.from_url(server, **self._pool_options)
                    client = _clients[ident] = self._client(connection_pool=pool)
                    client.give_back_script = client.register_script(GIVE_BACK)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        # OPTIONS["FAILURE_PAUSE"] (seconds, default PAUSE) is ours; the rest go to redis-py.
        options = dict(params.get("OPTIONS") or {})
        seconds = float(options.pop("FAILURE_PAUSE", PAUSE))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = PooledRedisCacheClient
        self.pause = _pauses.setdefault(repr(self._servers), _Pause(seconds))

    def _counting(self, operation: str, call: Callable[[], Any]) -> Any:
        """``call()``, or :class:`CacheUnavailable` when Redis is down or being left alone."""
        try:
            if self.pause.active():
                raise _Paused("skipped: Redis failed moments ago")
            return call()
        except UNREACHABLE as exc:
            if not isinstance(exc, _Paused):
                self.pause.failed(operation, exc)
            raise CacheUnavailable(f"{operation} failed: {exc!r}") from exc

    def counters_take(
        self, counters: Sequence[tuple[str, int, int]], reads: Sequence[str] = ()
    ) -> tuple[list[int], list[Any]]:
        """See :func:`counters_take`: one pipeline, one round trip."""

        def run() -> tuple[list[int], list[Any]]:
            client = self._cache.get_client(write=True)
            pipe = client.pipeline(transaction=False)
            for key, amount, timeout in counters:
                name = self.make_and_validate_key(key)
                pipe.incrby(name, amount)
                pipe.expire(name, timeout, nx=True)  # a new window's counter: expire it with the window
            if reads:
                pipe.mget([self.make_and_validate_key(key) for key in reads])
            answers = pipe.execute()
            loads = self._cache._serializer.loads
            values = [None if raw is None else loads(raw) for raw in answers[-1]] if reads else []
            return [int(count) for count in answers[0 : 2 * len(counters) : 2]], values

        return self._counting("counters_take", run)

    def counters_give_back(self, keys: Sequence[str], amount: int) -> None:
        """See :func:`counters_give_back`: one script call, one round trip."""

        def run() -> None:
            client = self._cache.get_client(write=True)
            client.give_back_script(keys=[self.make_and_validate_key(key) for key in keys], args=[amount])

        self._counting("counters_give_back", run)

    def hash_add(self, key: str, amounts: dict[str, int], timeout: int) -> None:
        """See :func:`hash_add`: one pipeline, one round trip."""

        def run() -> None:
            name = self.make_and_validate_key(key)
            pipe = self._cache.get_client(write=True).pipeline(transaction=False)
            for field, amount in amounts.items():
                pipe.hincrby(name, field, amount)
            pipe.expire(name, timeout, nx=True)
            pipe.execute()

        self._counting("hash_add", run)

    def hash_read(self, keys: Sequence[str]) -> list[dict[str, int]]:
        """See :func:`hash_read`: one pipeline, one round trip."""

        def run() -> list[dict[str, int]]:
            pipe = self._cache.get_client().pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(self.make_and_validate_key(key))
            return [{field.decode(): int(value) for field, value in found.items()} for found in pipe.execute()]

        return self._counting("hash_read", run)

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
        return self._counting("incr", lambda: super(RedisCache, self).incr(key, delta, version=version))


def counters_take(counters: Sequence[tuple[str, int, int]], reads: Sequence[str] = ()) -> tuple[list[int], list[Any]]:
    """Add ``amount`` to each ``(key, amount, timeout)`` counter (a new one expires after
    ``timeout`` seconds) and read the ``reads`` keys: (the counts, the values read, None
    for a miss). One round trip on Redis; raises :class:`CacheUnavailable` when it is down."""
    if hasattr(cache, "counters_take"):  # ours (the cache is a proxy: no isinstance)
        return cache.counters_take(counters, reads)
    counts = []
    for key, amount, timeout in counters:  # the local-memory cache of `make run`
        cache.add(key, 0, timeout=timeout)
        try:
            counts.append(cache.incr(key, amount))
        except ValueError:  # expired between add and incr: a new window has started
            cache.add(key, amount, timeout=timeout)
            counts.append(amount)
    found = cache.get_many(list(reads)) if reads else {}
    return counts, [found.get(key) for key in reads]


def counters_give_back(keys: Sequence[str], amount: int) -> None:
    """Subtract ``amount`` from each counter that still exists (one round trip on Redis);
    raises :class:`CacheUnavailable` when Redis is down."""
    if not keys or not amount:
        return
    if hasattr(cache, "counters_give_back"):
        cache.counters_give_back(keys, amount)
        return
    for key in keys:
        try:
            cache.decr(key, amount)
        except ValueError:  # the window ended meanwhile and its counter expired
            pass


def hash_add(key: str, amounts: dict[str, int], timeout: int) -> None:
    """Add each ``field: amount`` to the hash ``key`` (a new hash expires after ``timeout``
    seconds): one round trip on Redis; raises :class:`CacheUnavailable` when it is down."""
    if not amounts:
        return
    if hasattr(cache, "hash_add"):
        cache.hash_add(key, amounts, timeout)
        return
    found = cache.get(key) or {}  # the local-memory cache of `make run`: one process, good enough
    for field, amount in amounts.items():
        found[field] = found.get(field, 0) + amount
    cache.set(key, found, timeout=timeout)


def hash_read(keys: Sequence[str]) -> list[dict[str, int]]:
    """Each hash of ``keys`` as ``{field: count}`` (empty when missing): one round trip on
    Redis; raises :class:`CacheUnavailable` when it is down."""
    if hasattr(cache, "hash_read"):
        return cache.hash_read(keys)
    found = cache.get_many(list(keys))
    return [dict(found.get(key) or {}) for key in keys]
