"""System checks: a retention age shorter than the criteria windows silently undercounts."""

from django.conf import settings
from django.core.checks import Warning, register

from segments.criteria import MAX_WINDOW_DAYS

# The events segment criteria count over windows of up to MAX_WINDOW_DAYS.
COUNTED_BY_CRITERIA = {
    "RETENTION_LOGIN_EVENTS_DAYS": "'Logins in the last N days' and 'Current login streak'",
    "RETENTION_EVENTS_DAYS": "the interaction criteria (product views, cart adds, logins in the last N days)",
}


@register()
def retention_windows_check(app_configs=None, **kwargs) -> list:
    warnings = []
    for setting, criteria in COUNTED_BY_CRITERIA.items():
        days = getattr(settings, setting, 0)
        if isinstance(days, int) and 0 < days <= MAX_WINDOW_DAYS:
            warnings.append(
                Warning(
                    f"{setting}={days} deletes rows that segment criteria windows (up to {MAX_WINDOW_DAYS} days) "
                    f"still count: {criteria} undercount over longer windows.",
                    hint=f"Set it above {MAX_WINDOW_DAYS}, or 0 to keep them forever.",
                    id="segments.W001",
                )
            )
    return warnings
