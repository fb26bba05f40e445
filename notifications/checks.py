"""System checks: a notification setting that cannot work fails ``manage.py check`` (and every
process start), not every send."""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.utils.module_loading import import_string

APPRISE = "notifications.providers.apprise.AppriseProvider"


@register()
def notification_settings_check(app_configs=None, **kwargs) -> list:
    from notifications.services.policy import parse_quiet_hours

    problems = []
    try:
        parse_quiet_hours(settings.NOTIFICATIONS_QUIET_HOURS)
    except ValueError as exc:
        problems.append(
            Error(
                f"NOTIFICATIONS_QUIET_HOURS={settings.NOTIFICATIONS_QUIET_HOURS!r}: {exc}",
                hint='Write "HH:MM-HH:MM" (e.g. "22:00-08:00"), or leave it empty for none.',
                id="notifications.E001",
            )
        )
    for channel, path in settings.NOTIFICATIONS_PROVIDERS.items():
        try:
            import_string(path)
        except ImportError as exc:
            problems.append(
                Error(f"The {channel} provider {path!r} cannot be imported: {exc}", id="notifications.E002")
            )
        if path == APPRISE and not getattr(settings, f"NOTIFICATIONS_{channel}_URL", ""):
            problems.append(
                Warning(
                    f"{channel} uses Apprise but NOTIFICATIONS_{channel}_URL is empty: every {channel} send fails.",
                    id="notifications.W001",
                )
            )
    return problems
