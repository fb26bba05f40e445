"""Throttles beyond DRF's defaults, counted in the default cache (Redis in production).

DRF's rate throttles count every request. Sign-in must only count failures (a person who
types the right password is never locked out by their own successes), so
:class:`FailureThrottle` takes a slot before the attempt and gives it back after a success.
"""

import hashlib
import math
import time

from django.core.cache import cache
from rest_framework import throttling
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from lms.api.requests import client_ip


class SafeIdentMixin:
    """A valid address, or a hash of whatever arrived: header text never lands in a cache key."""

    def get_ident(self, request) -> str:
        ip = client_ip(request)
        if ip is not None:
            return ip
        raw = throttling.BaseThrottle().get_ident(request) or ""
        return "unparsable-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


class AnonRateThrottle(SafeIdentMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(SafeIdentMixin, throttling.UserRateThrottle):
    pass


def _email_ident(request) -> str | None:
    email = request.data.get("email") if hasattr(request, "data") and isinstance(request.data, dict) else None
    if not isinstance(email, str) or not email.strip():
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class EmailRateThrottle(SimpleRateThrottle):
    """Counts requests per email address in the body (hashed; the cache never holds addresses)."""

    def get_cache_key(self, request, view):
        ident = _email_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident} if ident else None


class IPRateThrottle(SafeIdentMixin, SimpleRateThrottle):
    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def scoped(base: type[SimpleRateThrottle], scope_name: str) -> type[SimpleRateThrottle]:
    """A throttle class for one scope of ``DEFAULT_THROTTLE_RATES``."""
    return type(f"{base.__name__}_{scope_name}", (base,), {"scope": scope_name})


class FailureThrottle:
    """Counts only failures, atomically, in fixed windows of the throttle's period.

    ``acquire()`` before an attempt takes a slot with an atomic increment (so parallel guesses
    cannot all pass a check before any of them is counted); ``release()`` after a success
    gives the slot back. A failed attempt keeps its slot: that is the count.
    """

    def __init__(self, request, view, *throttles: SimpleRateThrottle) -> None:
        self.request, self.view = request, view
        self.throttles = throttles
        self.taken: list[str] = []

    def _give_back(self) -> None:
        for key in self.taken:
            try:
                cache.decr(key)
            except ValueError:  # the window ended meanwhile and its counter expired
                pass
        self.taken = []

    def acquire(self) -> None:
        now = time.time()
        waits = []
        for throttle in self.throttles:
            ident_key = throttle.get_cache_key(self.request, self.view)
            if ident_key is None:
                continue
            window = int(now // throttle.duration)
            key = f"{ident_key}:{window}"
            cache.add(key, 0, timeout=throttle.duration + 1)
            self.taken.append(key)
            if cache.incr(key) > throttle.num_requests:
                waits.append((window + 1) * throttle.duration - now)
        if waits:
            self._give_back()
            raise Throttled(wait=max(1, math.ceil(max(waits))))

    def release(self) -> None:
        self._give_back()
