from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import EmailOTP, TokenFamily
from accounts.services import otp_send, session_end, session_start
from accounts.tasks import auth_records_prune_task

pytestmark = pytest.mark.django_db


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

    result = auth_records_prune_task.delay().get()

    assert result == {"otps": 1, "tokens": 1, "token_families": 1}
    assert not TokenFamily.objects.filter(pk=RefreshToken(live.refresh, verify=False)["fam"]).exists()
    assert TokenFamily.objects.count() == 2  # the signed-out one until its refresh token expires
    assert list(EmailOTP.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not OutstandingToken.objects.filter(pk=expired.pk).exists()
    assert OutstandingToken.objects.filter(jti=RefreshToken(live_again.refresh)["jti"]).exists()
    # The blacklisted but unexpired token stays blacklisted.
    assert BlacklistedToken.objects.filter(token__jti=RefreshToken(ended.refresh, verify=False)["jti"]).exists()
