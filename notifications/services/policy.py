"""What marketing must respect before it is sent: consent, the daily cap, quiet hours.

Transactional messages (a test send, account notices) respect none of these; they still need
an address.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from accounts.models import User
from notifications.models import Channel, Preference


def parse_quiet_hours(value: str) -> tuple[time, time] | None:
    """``"22:00-08:00"`` -> (22:00, 08:00); empty -> None. Raises ValueError when malformed."""
    value = value.strip()
    if not value:
        return None
    start, end = (time.fromisoformat(part.strip()) for part in value.split("-", 1))
    if start == end:
        raise ValueError("quiet hours start and end at the same time")
    return start, end


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def quiet_until(now: datetime, *, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """When the quiet hours around ``now`` end (UTC), or None when ``now`` is outside them.

    ``end`` before ``start`` means the quiet hours cross midnight (22:00-08:00).
    """
    local = now.astimezone(zone)
    moment = local.time().replace(tzinfo=None)
    if start < end:
        inside, end_day = start <= moment < end, local.date()
    else:
        inside = moment >= start or moment < end
        end_day = local.date() if moment < end else local.date() + timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def quiet_until_for(now: datetime, preference: Preference | None) -> datetime | None:
    """The end of the recipient's quiet hours if ``now`` falls inside them: their own window,
    else ``NOTIFICATIONS_QUIET_HOURS``, either judged in their zone (the site's without one)."""
    zone = _zone(preference.timezone if preference else "")
    if preference is not None and preference.quiet_start is not None and preference.quiet_end is not None:
        window = (preference.quiet_start, preference.quiet_end)
    else:
        window = parse_quiet_hours(settings.NOTIFICATIONS_QUIET_HOURS)
    if window is None:
        return None
    return quiet_until(now, zone=zone, start=window[0], end=window[1])


def consent_given(user: User, channel: str, preference: Preference | None) -> bool:
    """Whether the customer agreed to marketing on this channel (the profile's consents)."""
    if channel == Channel.EMAIL:
        return user.marketing_email
    if channel == Channel.SMS:
        return user.marketing_sms
    if channel == Channel.PUSH:
        return user.marketing_push
    return preference.in_app if preference is not None else True
