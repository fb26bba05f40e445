"""Is beat running? The every-minute outbox sweep stamps the cache; the doctor reads the age."""

from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

BEAT_HEARTBEAT_KEY = "lms:beat:heartbeat"


def beat_heartbeat_record(*, now: datetime | None = None) -> None:
    # Kept a day: an absent key then means beat never ran, or not for a day.
    cache.set(BEAT_HEARTBEAT_KEY, (now or timezone.now()).isoformat(), 24 * 3600)


def beat_heartbeat_at() -> datetime | None:
    stamp = cache.get(BEAT_HEARTBEAT_KEY)
    return datetime.fromisoformat(stamp) if stamp else None
