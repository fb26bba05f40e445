"""When a campaign runs: dates, weekdays and daily hours, judged on the campaign's own clock.

A campaign's weekdays and hours are wall-clock times in ``campaign.timezone`` (a Mumbai
happy hour is 18:00 in Mumbai whoever asks), so the instant ``at`` is converted to that zone
first; daylight saving is then nothing special: 09:00 in New York is 13:00 UTC in summer and
14:00 UTC in winter.
"""

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from campaigns.engine.types import PERIOD_DAY, PERIOD_MONTH, PERIOD_WEEK, Campaign

EVERY_DAY = frozenset(range(7))
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(at: dt.datetime, campaign: Campaign) -> dt.datetime:
    """``at`` on the campaign's clock."""
    return _on_clock(at, campaign.timezone)


@lru_cache(maxsize=512)
def _on_clock(at: dt.datetime, timezone: str) -> dt.datetime:
    # One evaluation asks the same instant of hundreds of campaigns in a handful of zones.
    return at.astimezone(zone(timezone))


def schedule_failure(campaign: Campaign, at: dt.datetime) -> tuple[str, str] | None:
    """``(reason, message)`` when the campaign is not live at ``at``, else None.

    Dates first (not_started, expired), then the day (outside_days), then the hour
    (outside_hours). A window that crosses midnight belongs to the day it opened on: a Friday
    22:00-02:00 window is open at 01:00 on Saturday even when Saturday is not a campaign day,
    and closed at 01:00 on Friday morning (that belongs to Thursday's window).
    """
    tz = campaign.timezone
    if at < campaign.starts_at:
        return "not_started", f"The campaign starts at {local(campaign.starts_at, campaign):%Y-%m-%d %H:%M} ({tz})."
    if campaign.ends_at is not None and at >= campaign.ends_at:
        return "expired", f"The campaign ended at {local(campaign.ends_at, campaign):%Y-%m-%d %H:%M} ({tz})."
    if campaign.daily_start is None and campaign.daily_end is None and EVERY_DAY <= campaign.weekdays:
        return None  # every day, all day: no need for the campaign's clock
    now = local(at, campaign)
    time_of_day, day = now.time(), now.weekday()
    opened_on, inside = day, True
    start, end = _plain(campaign.daily_start), _plain(campaign.daily_end)
    if start is not None or end is not None:
        start = start or dt.time(0)
        if end is None:
            inside = time_of_day >= start  # [start, midnight)
        elif start < end:
            inside = start <= time_of_day < end
        elif start > end:  # crosses midnight: [start, 24h) of the opening day and [0, end) of the next
            if time_of_day >= start:
                opened_on = day
            elif time_of_day < end:
                opened_on = (day - 1) % 7
            else:
                inside = False
        # start == end is refused by the model; read defensively as "all day".
    if opened_on not in campaign.weekdays:
        days = ", ".join(DAY_NAMES[index] for index in sorted(campaign.weekdays) if 0 <= index < 7) or "no day"
        return "outside_days", f"The campaign runs on {days} only ({tz})."
    if not inside:
        until = "midnight" if campaign.daily_end is None else f"{end:%H:%M}"
        return "outside_hours", f"The campaign runs from {start:%H:%M} to {until} ({tz})."
    return None


def _plain(value: dt.time | None) -> dt.time | None:
    """The wall-clock time without any tzinfo: windows are read on the campaign's clock."""
    return None if value is None else value.replace(tzinfo=None)


def uses_this_period(campaign: Campaign, at: dt.datetime, recent: tuple[dt.datetime, ...]) -> int:
    """How many of ``recent`` fall in the current local day / ISO week (from Monday) / month.

    Periods are calendar periods on the campaign's clock, not rolling windows: "once a day"
    resets at local midnight, "once a week" on Monday, "once a month" on the 1st.
    """
    now = local(at, campaign)
    key = _period_key(campaign.period, now)
    return sum(1 for when in recent if _period_key(campaign.period, local(when, campaign)) == key)


def _period_key(period: str, when: dt.datetime) -> tuple[int, ...]:
    if period == PERIOD_DAY:
        return (when.year, when.month, when.day)
    if period == PERIOD_WEEK:
        iso = when.isocalendar()
        return (iso.year, iso.week)
    if period == PERIOD_MONTH:
        return (when.year, when.month)
    return ()  # lifetime: one period that never ends
