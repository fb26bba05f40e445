"""Auth mail, routed to the small ``otp`` queue so it never waits behind a bulk send."""

from celery import shared_task
from django.conf import settings
from django.core.cache import cache


@shared_task(bind=True, max_retries=5, default_retry_delay=5)
def otp_email_send_task(self, otp_id: int, code: str) -> None:
    # The plain code has to travel with the task (only its hash is stored); the service
    # sends nothing once the code is used, superseded or expired.
    from accounts.services import otp_email_send

    try:
        otp_email_send(otp_id=otp_id, code=code)
    except OSError as exc:  # SMTP unreachable or refused: retry with backoff
        raise self.retry(exc=exc)


@shared_task(bind=True, max_retries=5, default_retry_delay=5)
def password_reset_email_send_task(self, email: str) -> None:
    from accounts.services import password_reset_email_send

    # acks_late redelivers the task of a worker that died; the first run to claim the task id
    # sends, so a link is never mailed twice (at worst the person asks again).
    claim = f"password-reset-mail:{self.request.id}"
    if not cache.add(claim, 1, timeout=2 * settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]):
        return
    try:
        password_reset_email_send(email=email)
    except OSError as exc:
        cache.delete(claim)  # the retry keeps the task id and must be able to claim it
        raise self.retry(exc=exc)
