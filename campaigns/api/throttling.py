"""Throttles of the cart routes: a customer's own rate, and a budget of unknown codes.

``code_unknown`` tells whether a code exists, so answering it is what a guesser pays with:
each unknown code a call is answered with takes a slot of a per-window budget, per customer
and per client address (a customer's own token), or per API key and per named customer (the
integration: a storefront proxies many customers from one address, so its key gets a much
larger budget and the address is not counted). Past a budget, a call that names codes is
429 ``throttled`` before it is evaluated. An ADMIN, who can list the codes anyway, has none.

Slots are taken with one atomic increment each (``_window_take``), so parallel calls can
never be answered more unknown codes than the budget holds.
"""

import hashlib
import logging
import math
import time
from typing import Any

from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import User, normalize_email
from commerce.api.authentication import IntegrationRateThrottle, is_integration
from lms.api.permissions import is_admin_role
from lms.api.throttling import AtomicRateThrottle, SafeIdentMixin, _window_give_back, _window_take

logger = logging.getLogger(__name__)

UNKNOWN = "code_unknown"


def is_customer_call(request) -> bool:
    """A person's bearer token that is not an ADMIN's: a customer acting for themselves."""
    return not is_integration(request) and not is_admin_role(request.user)


class CartIntegrationRateThrottle(IntegrationRateThrottle):
    """The integration's rate, for API keys and ADMINs only (customers have their own)."""

    def get_cache_key(self, request, view):
        return None if is_customer_call(request) else super().get_cache_key(request, view)


class CartCustomerRateThrottle(AtomicRateThrottle):
    """A customer's own calls to the cart routes, per account."""

    scope = "cart_customer"

    def get_cache_key(self, request, view):
        if not is_customer_call(request):
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"user:{request.user.pk}"}


class _Budget(SimpleRateThrottle):
    """A scope's rate (``num_requests`` per ``duration``); counted by ``UnknownCodeBudget``."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()


def _ident(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _customer_ident(customer: User | None, ref: dict[str, Any] | None) -> str | None:
    if customer is not None:
        return f"user:{customer.pk}"
    if ref and (ref.get("external_id") or ref.get("email")):
        # Not mirrored yet: the reference itself (hashed; the cache never holds addresses).
        return "ref:" + _ident(f"{ref.get('external_id') or ''}|{normalize_email(ref.get('email') or '')}")
    return None


def _window_wait(budget: _Budget, ident_key: str) -> float | None:
    """Seconds until the window ends when its budget is spent, else None (read only; the key
    as ``_window_take`` names it)."""
    now = time.time()
    window = int(now // budget.duration)
    try:
        count = cache.get(f"{ident_key}:{window}") or 0
    except RedisError:  # the cache is down: fail open, as the throttles do
        logger.warning("unknown-code budget not checked: the cache is unavailable", exc_info=True)
        return None
    return (window + 1) * budget.duration - now if count >= budget.num_requests else None


def _throttled(waits: list[float]) -> Throttled:
    return Throttled(wait=max(1, math.ceil(max(waits))))


class UnknownCodeBudget:
    """``check()`` before evaluating a cart that names codes; ``spend(n)`` once it is known
    that n of them are unknown (before answering: over budget, the answer is a 429)."""

    def __init__(self, request, *, customer: User | None, ref: dict[str, Any] | None) -> None:
        self.counters: list[tuple[_Budget, str]] = []
        if is_integration(request):
            idents = [("cart_unknown_code_key", f"key:{request.auth.prefix}")]
            idents.append(("cart_unknown_code_customer", _customer_ident(customer, ref)))
        elif is_admin_role(request.user):
            idents = []
        else:
            idents = [
                ("cart_unknown_code_customer", f"user:{request.user.pk}"),
                ("cart_unknown_code_ip", SafeIdentMixin().get_ident(request)),
            ]
        for scope, ident in idents:
            budget = _Budget(scope)
            if ident is not None and budget.rate is not None:
                self.counters.append((budget, budget.cache_format % {"scope": scope, "ident": ident}))

    def check(self, codes: list[str]) -> None:
        if not codes:
            return  # a cart without codes guesses nothing
        waits = [wait for budget, key in self.counters if (wait := _window_wait(budget, key)) is not None]
        if waits:
            raise _throttled(waits)

    def spend(self, unknown: int) -> None:
        taken: list[str] = []
        waits: list[float] = []
        for budget, ident_key in self.counters:
            for _ in range(unknown):
                key, wait = _window_take(budget, ident_key)
                taken.append(key)
                if wait is not None:
                    waits.append(wait)
                    break
        if waits:
            for key in taken:  # refused: the unknown codes were not answered
                _window_give_back(key)
            raise _throttled(waits)


def unknown_codes(rejected: Any) -> int:
    """How many of an answer's rejections say that a code does not exist."""
    return sum(1 for r in rejected if (r["reason"] if isinstance(r, dict) else r.reason) == UNKNOWN)
