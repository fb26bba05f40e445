"""Throttles beyond DRF's defaults, counted in the default cache (Redis in production).

DRF's rate throttles count every request. Sign-in must only count failures (a person who
types the right password is never locked out by their own successes), so
:class:`FailureThrottle` checks before the attempt and records after a failure.
"""

import hashlib

from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle


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


class IPRateThrottle(SimpleRateThrottle):
    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def scoped(base: type[SimpleRateThrottle], scope_name: str) -> type[SimpleRateThrottle]:
    """A throttle class for one scope of ``DEFAULT_THROTTLE_RATES``."""
    return type(f"{base.__name__}_{scope_name}", (base,), {"scope": scope_name})


class FailureThrottle:
    """Counts only failures: ``check()`` before an attempt, ``record()`` after a failed one."""

    def __init__(self, *throttles: SimpleRateThrottle) -> None:
        self.throttles = throttles

    def check(self, request, view) -> None:
        waits = []
        for throttle in self.throttles:
            throttle.key = throttle.get_cache_key(request, view)
            if throttle.key is None:
                continue
            throttle.now = throttle.timer()
            throttle.history = [t for t in throttle.cache.get(throttle.key, []) if t > throttle.now - throttle.duration]
            if len(throttle.history) >= throttle.num_requests:
                waits.append(throttle.wait())
        if waits:
            raise Throttled(wait=max(waits))

    def record(self, request, view) -> None:
        for throttle in self.throttles:
            if getattr(throttle, "key", None) is not None:
                throttle.throttle_success()
