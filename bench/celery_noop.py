"""A task that does nothing but count itself, for bench/notifications_fanout.py's floor: the
rate one worker runs tasks at when they cost nothing. Loaded into the bench's worker with
``celery worker --include bench.celery_noop``."""

from functools import cache

import redis
from celery import shared_task
from django.conf import settings

COUNTER = "bench:noop"


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@shared_task(name="bench.noop")
def noop() -> None:
    _redis().incr(COUNTER)
