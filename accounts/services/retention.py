"""What of the accounts tables the nightly retention run (lms/retention.py) may delete."""

from datetime import datetime

from django.db.models import QuerySet
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import EmailOTP, LoginEvent, TokenFamily
from lms.retention import Pruner, pruners


def login_events_stale(cutoff: datetime) -> QuerySet[LoginEvent]:
    # Segment criteria count sign-ins over windows of up to segments' MAX_WINDOW_DAYS (3650), so
    # the default age exceeds that (segments' system check warns when it is set shorter). The
    # loyalty streak keeps its own count on the account and last_login lives on the user.
    return LoginEvent.objects.filter(occurred_at__lt=cutoff)


def otps_stale(cutoff: datetime) -> QuerySet[EmailOTP]:
    # A code lives minutes (OTP_TTL); older rows are only an audit trail.
    return EmailOTP.objects.filter(created_at__lt=cutoff)


def token_families_stale(now: datetime) -> QuerySet[TokenFamily]:
    # A family whose current refresh token has expired can issue nothing more, and its access
    # tokens (shorter-lived, issued no later than that refresh token) have expired too.
    live = OutstandingToken.objects.filter(expires_at__gt=now).values("jti")
    return TokenFamily.objects.exclude(current_jti__in=live)


def refresh_tokens_stale(now: datetime) -> QuerySet[OutstandingToken]:
    # Blacklist rows cascade with their outstanding token: an expired token needs no blacklisting.
    return OutstandingToken.objects.filter(expires_at__lte=now)


def accounts_pruners_register() -> None:
    pruners.register(
        "accounts.login_events",
        Pruner("login events", login_events_stale, setting="RETENTION_LOGIN_EVENTS_DAYS", min_days=1),
    )
    pruners.register("accounts.otps", Pruner("email OTP rows", otps_stale, setting="RETENTION_OTP_DAYS"))
    pruners.register("accounts.token_families", Pruner("expired token families", token_families_stale))
    pruners.register("accounts.refresh_tokens", Pruner("expired refresh tokens", refresh_tokens_stale))
