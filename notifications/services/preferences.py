"""A person's notification settings and push devices.

The marketing consents (email, SMS, push) live on the user and change through accounts'
profile service; the rest (in-app marketing, time zone, quiet hours) is a
:class:`~notifications.models.Preference` row created on the first write.
"""

import re
import zoneinfo
from dataclasses import dataclass
from datetime import time
from functools import cache

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import user_profile_update
from lms.errors import Invalid, NotFound
from notifications.models import Preference, PushDevice

CONSENTS = ("marketing_email", "marketing_sms", "marketing_push")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()  # "leave as it is", distinct from None ("clear it")


@dataclass(frozen=True)
class Preferences:
    marketing_email: bool
    marketing_sms: bool
    marketing_push: bool
    in_app: bool
    timezone: str
    quiet_start: time | None
    quiet_end: time | None


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA zone we know, or None (blank means the site's zone)."""
    if name == "" or name in _zones():
        return None
    return f"Unknown time zone {name[:64]!r}; use an IANA name such as Asia/Kolkata."


def preferences_of(*, user: User) -> Preferences:
    """The user's settings; defaults when they never saved any (nothing is written)."""
    pref = Preference.objects.filter(user_id=user.pk).first() or Preference(user_id=user.pk)
    return Preferences(
        marketing_email=user.marketing_email,
        marketing_sms=user.marketing_sms,
        marketing_push=user.marketing_push,
        in_app=pref.in_app,
        timezone=pref.timezone,
        quiet_start=pref.quiet_start,
        quiet_end=pref.quiet_end,
    )


def _invalid(field: str, message: str) -> Invalid:
    error = Invalid("validation_error", f"{field}: {message}")
    error.details = {field: [message]}
    return error


@transaction.atomic
def preferences_update(
    *,
    user: User,
    marketing_email: bool | _Unset = UNSET,
    marketing_sms: bool | _Unset = UNSET,
    marketing_push: bool | _Unset = UNSET,
    in_app: bool | _Unset = UNSET,
    timezone_name: str | _Unset = UNSET,
    quiet_start: time | None | _Unset = UNSET,
    quiet_end: time | None | _Unset = UNSET,
) -> Preferences:
    """Change the given settings (the others stay); the quiet hours are judged as they will be
    stored (both or neither, not equal), so a PATCH of one end alone must fit the other."""
    if not isinstance(timezone_name, _Unset) and (problem := timezone_problem(timezone_name)):
        raise _invalid("timezone", problem)
    # The first write creates the row; two first writes at once: get_or_create's unique
    # user_id makes one of them read the other's row. The lock then serialises the
    # read-modify-write of the quiet hours, so two PATCHes of one end each cannot combine
    # into a window neither checked.
    Preference.objects.get_or_create(user_id=user.pk)
    pref = Preference.objects.select_for_update().get(user_id=user.pk)
    start = pref.quiet_start if isinstance(quiet_start, _Unset) else quiet_start
    end = pref.quiet_end if isinstance(quiet_end, _Unset) else quiet_end
    if (start is None) != (end is None):
        missing = "quiet_end" if end is None else "quiet_start"
        raise _invalid(missing, "Set both quiet_start and quiet_end, or neither.")
    if start is not None and start == end:
        raise _invalid("quiet_end", "The quiet hours cannot start and end at the same time.")
    changed = []
    for name, value in (("in_app", in_app), ("timezone", timezone_name)):
        if not isinstance(value, _Unset):
            setattr(pref, name, value)
            changed.append(name)
    if not (isinstance(quiet_start, _Unset) and isinstance(quiet_end, _Unset)):
        pref.quiet_start, pref.quiet_end = start, end
        changed += ["quiet_start", "quiet_end"]
    if changed:
        pref.save(update_fields=[*changed, "updated_at"])
    consents = {
        name: value
        for name, value in zip(CONSENTS, (marketing_email, marketing_sms, marketing_push), strict=True)
        if not isinstance(value, _Unset)
    }
    if consents:
        user = user_profile_update(user=User.objects.select_for_update().get(pk=user.pk), **consents)
    return preferences_of(user=user)


@transaction.atomic
def push_device_register(*, user: User, token: str, platform: str = "") -> tuple[PushDevice, bool]:
    """Register the caller's device token; ``(device, created)``. Idempotent on the token: a
    token another account registered (the phone changed hands, or signed in as someone else)
    moves to this caller, since a device has one current user."""
    now = timezone.now()
    # update_or_create locks the token's row (or, racing a first registration, retries on
    # the unique token), so two registrations of one token leave one row with the last caller.
    return PushDevice.objects.update_or_create(
        token=token,
        defaults={"user_id": user.pk, "platform": platform, "active": True, "last_seen_at": now},
        create_defaults={
            "user_id": user.pk,
            "platform": platform,
            "active": True,
            "created_at": now,
            "last_seen_at": now,
        },
    )


@transaction.atomic
def push_device_remove(*, user: User, device: str) -> None:
    """Forget one of the caller's devices, named by its id or its token; another person's
    device is :class:`NotFound` (whether it exists is not revealed)."""
    mine = PushDevice.objects.filter(user_id=user.pk)
    found = mine.filter(token=device).first()
    if found is None and re.fullmatch(r"[0-9]{1,18}", device):
        found = mine.filter(pk=int(device)).first()
    if found is None:
        raise NotFound("not_found", "No such device among yours.")
    found.delete()
