"""The versions of the two per-process copies an evaluation reads (live campaigns, the
catalogue), as held in the shared cache. The cart throttles read them in the round trip that
counts the call (``request.evaluation_versions``); ``versions_read`` is the fallback."""

from dataclasses import dataclass

from django.core.cache import cache

from commerce.services.catalogue import CATALOGUE_VERSION_KEY

CAMPAIGNS_VERSION_KEY = "campaigns:snapshot:version"
VERSION_KEYS = (CAMPAIGNS_VERSION_KEY, CATALOGUE_VERSION_KEY)


@dataclass(frozen=True)
class Versions:
    campaigns: str | None
    catalogue: str | None


def versions_read() -> Versions:
    """Both versions in one round trip (a missing one is None: its reader makes one)."""
    found = cache.get_many(list(VERSION_KEYS))
    return Versions(*(found.get(key) for key in VERSION_KEYS))
