"""The older NestJS service's routes, kept alive verbatim at the root.

One table: each seed path is served by the very view behind a canonical ``/api/v1/`` route
(found by its URL name), so there is no second implementation to drift. A later app adds
its rows here when it adds the canonical route.
"""

import re
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from django.urls import URLPattern, URLResolver, re_path


class SeedRoute(NamedTuple):
    method: str
    seed: str  # Django path syntax, no leading slash
    canonical_name: str  # the URL name of the /api/v1/ route


SEED_ROUTES: tuple[SeedRoute, ...] = (
    SeedRoute("POST", "auth/signin", "auth-signin"),
    SeedRoute("POST", "auth/forget-password", "auth-password-forgot"),
    SeedRoute("GET", "auth/reset-password", "auth-password-reset"),
    SeedRoute("POST", "auth/reset-password", "auth-password-reset"),
    SeedRoute("POST", "user/send-otp", "auth-otp-send"),
    SeedRoute("POST", "user/verify-otp", "auth-otp-verify"),
    SeedRoute("POST", "user/signup", "auth-signup"),
    SeedRoute("POST", "campaigns/discount-coupon/create", "campaign-discount-list"),
    SeedRoute("GET", "campaigns/get", "campaign-list"),
    SeedRoute("GET", "campaigns/discount-coupon/active", "campaign-discount-active"),
    SeedRoute("PATCH", "campaigns/discount-coupon/<int:pk>/status", "campaign-status"),
    SeedRoute("DELETE", "campaigns/coupon/<int:pk>", "campaign-detail"),
    SeedRoute("POST", "campaigns/loyaltyprogram/create", "loyalty-program-list"),
    SeedRoute("POST", "segment/create", "segment-list"),
    SeedRoute("GET", "segment/get", "segment-list"),
    SeedRoute("GET", "segment/<int:pk>", "segment-detail"),
    SeedRoute("DELETE", "segment/<int:pk>", "segment-detail"),
    SeedRoute("POST", "promotion", "promotion-list"),
    SeedRoute("GET", "promotion/get", "promotion-list"),
    SeedRoute("DELETE", "promotion/delete/<int:pk>", "promotion-detail"),
    SeedRoute("GET", "notifications", "notification-list"),
)


def _views_by_name(patterns: Iterable, namespace: str = "") -> Iterator[tuple[str, Callable]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _views_by_name(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}", pattern.callback


def _seed_regex(seed: str) -> str:
    """The seed path as a regex with an optional trailing slash (NestJS answered both spellings)."""
    parts = re.split(r"(<int:\w+>)", seed)
    body = "".join(f"(?P<{part[5:-1]}>[0-9]+)" if part.startswith("<int:") else re.escape(part) for part in parts)
    return f"^{body}/?$"


def seed_urlpatterns(api_patterns: list) -> list[URLPattern]:
    """URL patterns for every seed path, bound to the canonical views found in ``api_patterns``."""
    views = dict(_views_by_name(api_patterns))
    patterns, seen = [], set()
    for route in SEED_ROUTES:
        if route.seed in seen:  # one path, several methods: the view dispatches on method
            continue
        seen.add(route.seed)
        name = f"seed-{route.seed}".replace(":", "-")
        patterns.append(re_path(_seed_regex(route.seed), views[route.canonical_name], name=name))
    return patterns
