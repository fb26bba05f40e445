"""Throttles beyond DRF's defaults, counted in the default cache (Redis in production).

DRF's rate throttles read a request history and write it back, so parallel requests can all
pass before any is counted. The auth throttles (OTP sends, resets, sign-in failures) guard
against mail-bombing and guessing, so they count with an atomic increment per fixed window
instead (:class:`AtomicRateThrottle`). Sign-in must only count failures (a person who types
the right password is never locked out by their own successes): :class:`FailureThrottle`
takes a slot before the attempt and gives it back after a success.

With the cache down every throttle lets requests through (fail open, logged): the cache
(:mod:`lms.cache`) answers DRF's history reads as empty, and the window counters below
treat a count that could not be taken as under the limit.
"""

import hashlib
import ipaddress
import math
import time

from rest_framework import throttling
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from lms.api.requests import client_ip
from lms.cache import CacheUnavailable, cache_failure_log, counters_give_back, counters_take


class SafeIdentMixin:
    """A valid address, or a hash of whatever arrived: header text never lands in a cache key."""

    def get_ident(self, request) -> str:
        ip = client_ip(request)
        if ip is not None:
            address = ipaddress.ip_address(ip)
            if address.version == 6 and address.ipv4_mapped is None:
                # One client holds a whole /64 (SLAAC, privacy addresses): it counts as one.
                return str(ipaddress.ip_network(f"{ip}/64", strict=False))
            return ip
        raw = throttling.BaseThrottle().get_ident(request) or ""
        return "unparsable-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


class AnonRateThrottle(SafeIdentMixin, throttling.AnonRateThrottle):
    """DRF's anonymous throttle, keyed by a safe client identity."""


class UserRateThrottle(SafeIdentMixin, throttling.UserRateThrottle):
    """DRF's per-user throttle, keyed by a safe client identity."""


def _window_take(
    throttle: SimpleRateThrottle, ident_key: str, amount: int = 1, reads: tuple[str, ...] = ()
) -> tuple[str, float | None, list | None]:
    """Count ``amount`` requests in the current window and read the ``reads`` keys in the same
    round trip: (the counter's key, seconds to wait if over, the values read or None when the
    cache is down)."""
    keys, wait, values = windows_take([(throttle, ident_key)], amount, reads)
    return keys[0], wait, values


def windows_take(
    counters: list[tuple[SimpleRateThrottle, str]], amount: int = 1, reads: tuple[str, ...] = ()
) -> tuple[list[str], float | None, list | None]:
    """``_window_take`` for several throttles at once, in one round trip: (their counters'
    keys, seconds to wait if any is over, the values read or None when the cache is down)."""
    now = time.time()
    windows = [int(now // throttle.duration) for throttle, _ in counters]
    keys = [f"{ident_key}:{window}" for (_, ident_key), window in zip(counters, windows, strict=True)]
    try:
        counts, values = counters_take(
            [(key, amount, throttle.duration + 1) for key, (throttle, _) in zip(keys, counters, strict=True)], reads
        )
    except CacheUnavailable as exc:
        cache_failure_log(f"throttle {counters[0][0].scope if counters else ''} (let through)", exc)
        return keys, None, None
    waits = [
        (window + 1) * throttle.duration - now
        for count, window, (throttle, _) in zip(counts, windows, counters, strict=True)
        if count > throttle.num_requests
    ]
    return keys, (max(waits) if waits else None), values


def _window_give_back(key: str, amount: int = 1) -> None:
    windows_give_back([key], amount)


def windows_give_back(keys: list[str], amount: int = 1) -> None:
    try:
        counters_give_back(keys, amount)
    except CacheUnavailable as exc:  # nothing was counted while the cache was down
        cache_failure_log("throttle give-back", exc)


class AtomicRateThrottle(SimpleRateThrottle):
    """N requests per fixed window, counted with one atomic increment each."""

    reads: list | None = None  # the values of ``reads_with_count``'s keys, once counted

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        ident_key = self.get_cache_key(request, view)
        if ident_key is None:
            return True
        key, self._wait, self.reads = _window_take(self, ident_key, reads=self.reads_with_count(request))
        if self._wait is not None:
            _window_give_back(key)  # a refused request does not push the window further
            return False
        return True

    def reads_with_count(self, request) -> tuple[str, ...]:
        """Cache keys to read in the counting's round trip (``self.reads`` holds their values)."""
        return ()

    def wait(self) -> float | None:
        return max(1, math.ceil(self._wait)) if getattr(self, "_wait", None) else None


def _email_ident(request) -> str | None:
    email = request.data.get("email") if hasattr(request, "data") and isinstance(request.data, dict) else None
    if not isinstance(email, str) or not email.strip():
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class EmailRateThrottle(AtomicRateThrottle):
    """Counts requests per email address in the body (hashed; the cache never holds addresses)."""

    def get_cache_key(self, request, view):
        ident = _email_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident} if ident else None


class IPRateThrottle(SafeIdentMixin, AtomicRateThrottle):
    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def scoped(base: type[SimpleRateThrottle], scope_name: str) -> type[SimpleRateThrottle]:
    """A throttle class for one scope of ``DEFAULT_THROTTLE_RATES``."""
    return type(f"{base.__name__}_{scope_name}", (base,), {"scope": scope_name})


class FailureThrottle:
    """Counts only failures: ``acquire()`` before an attempt takes a slot in each throttle's
    window (so parallel guesses cannot all pass before any is counted); ``release()`` after
    a success gives the slots back. A failed attempt keeps its slot: that is the count."""

    def __init__(self, request, view, *throttles: SimpleRateThrottle) -> None:
        self.request, self.view = request, view
        self.throttles = throttles
        self.taken: list[str] = []

    def acquire(self) -> None:
        counters = [(throttle, throttle.get_cache_key(self.request, self.view)) for throttle in self.throttles]
        counters = [(throttle, ident_key) for throttle, ident_key in counters if ident_key is not None]
        if not counters:
            return
        self.taken, wait, _ = windows_take(counters)
        if wait is not None:
            self.release()
            raise Throttled(wait=max(1, math.ceil(wait)))

    def release(self) -> None:
        windows_give_back(self.taken)
        self.taken = []


class EmailIPRateThrottle(SafeIdentMixin, AtomicRateThrottle):
    """Counts requests per (email address in the body, client IP) pair, hashed together: a
    stranger's guesses at someone's password fill the stranger's count, not the owner's."""

    def get_cache_key(self, request, view):
        email = _email_ident(request)
        if email is None:
            return None
        pair = hashlib.sha256(f"{email}:{self.get_ident(request)}".encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": pair}
