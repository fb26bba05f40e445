"""Why carts were refused: counted per campaign, day and reason, without storing a cart.

The hot path (``refusals_count``, called by ``POST /cart/evaluate``) adds one to a field
``<campaign id>:<reason>`` of the day's Redis hash ``campaigns:refusals:<day>`` in one
pipelined round trip; the day is the site's (``settings.TIME_ZONE``). Counting is best-effort:
with Redis down the evaluation answers as usual and the refusals go uncounted.

``refusals_rollup`` (beat, every few minutes) copies each hash of the last ``KEEP_DAYS`` days
into ``RefusalCount`` by *setting* each row to the hash's count, never adding: a rerun, or a
rerun after a crash between the write and anything else, writes the same numbers, so nothing
is counted twice and the hashes need no rename or GETDEL dance. ``GREATEST`` keeps a row from
going down when Redis lost a hash (a restart without persistence): the table then holds the
last figures rolled up. A hash lives ``KEEP_DAYS`` days, long enough for late evaluations
of a closed day to be rolled up by the next runs.

Reports read the table for past days and the live hash for today (the table's today when
Redis is down).
"""

import datetime as dt
import logging
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction

from campaigns.engine import types as t
from campaigns.models import RefusalCount
from lms.cache import CacheUnavailable, hash_add, hash_read

logger = logging.getLogger(__name__)

KEY = "campaigns:refusals:{day}"
KEEP_DAYS = 3


def site_day(at: dt.datetime) -> dt.date:
    """The site's calendar day of ``at`` (reports count days in ``settings.TIME_ZONE``)."""
    return at.astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def refusals_count(rejected: Iterable[t.Rejected], *, at: dt.datetime) -> None:
    """Count each campaign's refusals of one evaluation (best-effort: never raises for Redis)."""
    amounts: dict[str, int] = {}
    for refusal in rejected:
        if refusal.campaign_id is not None:
            field = f"{refusal.campaign_id}:{refusal.reason}"
            amounts[field] = amounts.get(field, 0) + 1
    if not amounts:
        return
    try:
        hash_add(KEY.format(day=site_day(at).isoformat()), amounts, KEEP_DAYS * 86400)
    except CacheUnavailable:
        pass  # logged once per pause by lms.cache; a refusal uncounted is no reason to fail a cart


def _parse(found: dict[str, int]) -> list[tuple[int, str, int]]:
    rows = []
    for field, count in found.items():
        campaign_id, _, reason = field.partition(":")
        if campaign_id.isdigit() and reason:
            rows.append((int(campaign_id), reason, count))
    return rows


def live_counts(day: dt.date) -> list[tuple[int, str, int]] | None:
    """Today's (or any kept day's) live counters as (campaign id, reason, count); None when
    Redis is down."""
    try:
        (found,) = hash_read([KEY.format(day=day.isoformat())])
    except CacheUnavailable:
        return None
    return _parse(found)


def refusals_rollup(*, now: dt.datetime | None = None) -> int:
    """Copy the kept days' counters into ``RefusalCount`` (idempotent: rows are set, not added).
    Answers the rows written; 0 when Redis is down."""
    today = site_day(now or dt.datetime.now(dt.UTC))
    days = [today - dt.timedelta(days=back) for back in range(KEEP_DAYS)]
    try:
        hashes = hash_read([KEY.format(day=day.isoformat()) for day in days])
    except CacheUnavailable:
        return 0
    rows = [
        (cid, day, reason, count)
        for day, found in zip(days, hashes, strict=True)
        for cid, reason, count in _parse(found)
    ]
    if not rows:
        return 0
    table = RefusalCount._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # A campaign deleted since it was counted has no row to hang the count on: skipped.
        cursor.execute(
            f"""
            INSERT INTO {table} (campaign_id, day, reason, count)
            SELECT v.campaign_id, v.day, v.reason, v.count
            FROM unnest(%s::bigint[], %s::date[], %s::varchar[], %s::int[]) AS v(campaign_id, day, reason, count)
            JOIN campaigns_campaign c ON c.id = v.campaign_id
            ON CONFLICT (campaign_id, day, reason)
            DO UPDATE SET count = GREATEST({table}.count, EXCLUDED.count)
            """,
            [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]],
        )
        return cursor.rowcount
