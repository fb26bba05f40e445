"""Throttles of the cart routes: a customer's own rate, and a budget of unknown codes.

``code_unknown`` tells whether a code exists, so answering it is what a guesser pays with;
``code_not_yours`` (a code given to another customer) costs the same, so a code found to be
someone else's is no cheaper to find than a code found not to exist, and no use either. A
call that names codes first reserves one slot per distinct code in each of its budgets (per
customer and per client address for a customer's own token; per API key and per named
customer for the integration, whose guest carts have a budget of their own so that guessing
through a guest cart cannot spend every customer's; none for an ADMIN, who can list the codes
anyway). A reservation that does not fit is 429 ``throttled`` before anything is evaluated, so
whether a call is refused depends only on how many codes it names, never on whether they
exist. Once answered, the slots of the codes that turned out to exist are given back; a call
that fails (400, 409) gives back all of them.

Slots are taken with one atomic increment per budget (``windows_take``, every budget of a call
in one round trip), so parallel calls can never be answered more unknown codes than the budget
holds.

The cart throttles read the evaluation's snapshot versions in the round trip that counts the
call (``request.evaluation_versions``): a warm evaluation asks Redis nothing else.
"""

import hashlib
import math
from typing import Any

from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import User, normalize_email
from campaigns.evaluation.versions import VERSION_KEYS, Versions
from commerce.authentication import IntegrationRateThrottle, is_integration
from lms.api.permissions import is_admin_role
from lms.api.throttling import AtomicRateThrottle, SafeIdentMixin, windows_give_back, windows_take

# The answers a guesser pays for: the code does not exist, or is not theirs to use.
UNKNOWN = frozenset({"code_unknown", "code_not_yours"})


def is_customer_call(request) -> bool:
    """A person's bearer token that is not an ADMIN's: a customer acting for themselves."""
    return not is_integration(request) and not is_admin_role(request.user)


class _ReadsVersions(AtomicRateThrottle):
    """Reads the snapshots' versions in the round trip that counts the call."""

    def reads_with_count(self, request) -> tuple[str, ...]:
        return VERSION_KEYS

    def allow_request(self, request, view) -> bool:
        allowed = super().allow_request(request, view)
        if self.reads is not None:
            request.evaluation_versions = Versions(*self.reads)
        return allowed


class CartIntegrationRateThrottle(_ReadsVersions, IntegrationRateThrottle):
    """The integration's rate, for API keys and ADMINs only (customers have their own)."""

    def get_cache_key(self, request, view):
        return None if is_customer_call(request) else super().get_cache_key(request, view)


class CartCustomerRateThrottle(_ReadsVersions):
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


def _throttled(waits: list[float]) -> Throttled:
    return Throttled(wait=max(1, math.ceil(max(waits))))


class UnknownCodeBudget:
    """``reserve(codes)`` before evaluating a cart, then ``settle(unknown)`` with how many of
    them the answer calls unknown (0 when the call failed or replayed an earlier answer)."""

    def __init__(self, request, *, customer: User | None, ref: dict[str, Any] | None) -> None:
        self.counters: list[tuple[_Budget, str]] = []
        self.reserved: list[str] = []
        self.amount = 0
        if is_integration(request):
            key = f"key:{request.auth.prefix}"
            named = _customer_ident(customer, ref)
            if named is None:  # a guest cart: the key's guests share a budget of their own
                idents = [("cart_unknown_code_guest", key)]
            else:
                idents = [("cart_unknown_code_key", key), ("cart_unknown_code_customer", named)]
        elif is_admin_role(request.user):
            idents = []
        else:
            idents = [
                ("cart_unknown_code_customer", f"user:{request.user.pk}"),
                ("cart_unknown_code_ip", SafeIdentMixin().get_ident(request)),
            ]
        for scope, ident in idents:
            budget = _Budget(scope)
            if budget.rate is not None:
                self.counters.append((budget, budget.cache_format % {"scope": scope, "ident": ident}))

    def reserve(self, codes: list[str]) -> None:
        """Take a slot per distinct code in every budget, or 429 taking none."""
        amount = len({code.strip().upper() for code in codes if code.strip()})
        if not amount or not self.counters:
            return  # a cart without codes guesses nothing
        self.reserved, wait, _ = windows_take(self.counters, amount)
        self.amount = amount
        if wait is not None:
            self.settle(0)
            raise _throttled([wait])

    def settle(self, unknown: int) -> None:
        """Give back the slots of the codes that were not answered as unknown."""
        back = self.amount - min(unknown, self.amount)
        if back:
            windows_give_back(self.reserved, back)
        self.reserved, self.amount = [], 0


def unknown_codes(rejected: Any) -> int:
    """How many of an answer's rejections say that a code does not exist or is another's."""
    return sum(1 for r in rejected if (r["reason"] if isinstance(r, dict) else r.reason) in UNKNOWN)
