from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import EmailOTP, LoginEvent, TokenFamily
from accounts.services import otp_send, session_end, session_start
from lms.retention import records_prune
from lms.tasks import records_prune_task

pytestmark = pytest.mark.django_db


def _deleted(results) -> dict[str, int]:
    return {result.name: result.deleted for result in results}


def test_prune_deletes_old_otps_expired_tokens_and_their_families_but_keeps_live_ones(customer):
    old = otp_send(email="old@example.com")
    EmailOTP.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    recent = otp_send(email="recent@example.com")
    live = session_start(user=customer)
    expired = OutstandingToken.objects.get(jti=RefreshToken(live.refresh)["jti"])
    ended = session_start(user=customer)
    session_end(refresh=ended.refresh)
    OutstandingToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    live_again = session_start(user=customer)

    result = records_prune_task.delay().get()

    assert {k: v for k, v in result.items() if k != "accounts.login_events"} == {
        "accounts.otps": 1,
        "accounts.refresh_tokens": 1,
        "accounts.token_families": 1,
        "commerce.interaction_events": 0,
        "notifications.deliveries": 0,
    }
    assert not TokenFamily.objects.filter(pk=RefreshToken(live.refresh, verify=False)["fam"]).exists()
    assert TokenFamily.objects.count() == 2  # the signed-out one until its refresh token expires
    assert list(EmailOTP.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not OutstandingToken.objects.filter(pk=expired.pk).exists()
    assert OutstandingToken.objects.filter(jti=RefreshToken(live_again.refresh)["jti"]).exists()
    # The blacklisted but unexpired token stays blacklisted.
    assert BlacklistedToken.objects.filter(token__jti=RefreshToken(ended.refresh, verify=False)["jti"]).exists()


def test_login_events_go_past_their_age_and_stay_within_it(customer, settings):
    settings.RETENTION_LOGIN_EVENTS_DAYS = 30
    now = timezone.now()
    kept = [LoginEvent.objects.create(user=customer, occurred_at=now - timedelta(days=d)) for d in (0, 29)]
    LoginEvent.objects.create(user=customer, occurred_at=now - timedelta(days=31))
    LoginEvent.objects.create(user=customer, occurred_at=now - timedelta(days=400))

    assert _deleted(records_prune(now=now))["accounts.login_events"] == 2

    assert sorted(LoginEvent.objects.values_list("pk", flat=True)) == sorted(e.pk for e in kept)


def test_an_otp_age_of_zero_keeps_every_otp(settings):
    settings.RETENTION_OTP_DAYS = 0
    old = otp_send(email="old@example.com")
    EmailOTP.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3000))

    results = {result.name: result for result in records_prune()}

    assert results["accounts.otps"].kept_forever and results["accounts.otps"].deleted == 0
    assert EmailOTP.objects.filter(pk=old.pk).exists()


def test_the_default_login_event_age_outlasts_the_longest_segment_window(settings):
    from segments.criteria import MAX_WINDOW_DAYS

    assert settings.RETENTION_LOGIN_EVENTS_DAYS > MAX_WINDOW_DAYS
    assert settings.RETENTION_EVENTS_DAYS > MAX_WINDOW_DAYS
