"""One-time codes by email, and the email-verification token a verified code gives."""

import hmac
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError

from accounts.models import EmailOTP, normalize_email
from accounts.tokens import EMAIL_CLAIM, EmailVerificationToken
from lms.errors import Invalid
from lms.mail import templated_mail_send

# --- OTP --------------------------------------------------------------------------------------


def _otp_hash(*, email: str, code: str) -> str:
    # Keyed with SECRET_KEY and bound to the address: a leaked table reveals no codes, and a
    # hash cannot be replayed for another address.
    return salted_hmac("accounts.otp", f"{email}:{code}", algorithm="sha256").hexdigest()


def otp_send(*, email: str, ip: str | None = None) -> EmailOTP:
    """Issue a fresh 6-digit code for ``email`` (superseding any open one) and mail it on commit."""
    email = normalize_email(email)
    code = f"{secrets.randbelow(10**6):06d}"
    now = timezone.now()
    with transaction.atomic():
        # Sends for one address take turns: without this, two sends could both supersede the
        # old code and both insert, and the one-open-code constraint would refuse the second.
        # (SQLite, the embedded default, serialises every write anyway.)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"accounts.otp:{email}"])
        EmailOTP.objects.filter(email=email, consumed_at__isnull=True, superseded_at__isnull=True).update(
            superseded_at=now
        )
        otp = EmailOTP.objects.create(
            email=email,
            code_hash=_otp_hash(email=email, code=code),
            created_at=now,
            expires_at=now + settings.OTP_TTL,
            requested_ip=ip,
        )
        from lms.outbox import outbox_enqueue

        outbox_enqueue("accounts.tasks.otp_email_send_task", otp.pk, code)
    return otp


def otp_email_send(*, otp_id: int, code: str) -> bool:
    """Mail the code once; a redelivered task or a superseded code sends nothing."""
    now = timezone.now()
    # Claim the row before sending so a redelivered task (acks_late) never mails twice.
    claimed = EmailOTP.objects.live(now).filter(pk=otp_id, sent_at__isnull=True).update(sent_at=now)
    if not claimed:
        return False
    otp = EmailOTP.objects.get(pk=otp_id)
    try:
        templated_mail_send(
            template="otp",
            to=otp.email,
            context={"code": code, "minutes": int(settings.OTP_TTL.total_seconds() // 60)},
        )
    except Exception:
        EmailOTP.objects.filter(pk=otp_id).update(sent_at=None)  # give the retry its claim back
        raise
    return True


@dataclass(frozen=True)
class EmailVerification:
    token: str
    expires_in: int


def otp_verify(*, email: str, code: str) -> EmailVerification:
    """Check a code; single use, at most ``OTP_MAX_ATTEMPTS`` wrong tries, then it is dead.

    Returns a short-lived signed token that proves the address (for sign-up).
    """
    email = normalize_email(email)
    now = timezone.now()
    failure: Invalid | None = None
    # The failed-attempt count must be committed even though the call fails, so the error is
    # raised after the transaction, not inside it.
    with transaction.atomic():
        # Lock the open code: concurrent verifications of one code serialise here, so a correct
        # code is accepted once and wrong guesses are counted exactly.
        otp = (
            EmailOTP.objects.select_for_update()
            .filter(email=email, consumed_at__isnull=True, superseded_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        if otp is None:
            failure = Invalid("otp_invalid", "No code is pending for this address; request a new one.")
        elif otp.expires_at <= now:
            failure = Invalid("otp_expired", "The code has expired; request a new one.")
        elif otp.attempts >= settings.OTP_MAX_ATTEMPTS:
            failure = Invalid("otp_attempts_exceeded", "Too many wrong codes; request a new one.")
        elif not hmac.compare_digest(otp.code_hash, _otp_hash(email=email, code=code)):
            otp.attempts += 1
            otp.save(update_fields=["attempts"])
            left = settings.OTP_MAX_ATTEMPTS - otp.attempts
            if left:
                failure = Invalid("otp_invalid", f"The code is incorrect; {left} attempt(s) left.", attempts_left=left)
            else:
                failure = Invalid("otp_attempts_exceeded", "Too many wrong codes; request a new one.", attempts_left=0)
        else:
            otp.consumed_at = now
            otp.save(update_fields=["consumed_at"])
    if failure is not None:
        raise failure
    return email_token_make(email=email)


def email_token_make(*, email: str) -> EmailVerification:
    """A JWT of type ``email_verification`` proving ``email`` (seed: verify-otp "gets a JWT")."""
    token = EmailVerificationToken()
    token[EMAIL_CLAIM] = normalize_email(email)
    return EmailVerification(token=str(token), expires_in=int(token.lifetime.total_seconds()))


def email_token_read(*, token: str) -> str:
    """The address a verification token proves; 400 when it is expired, tampered with, or
    another kind of token (an access or refresh token proves no address)."""
    expired = Invalid(
        "verification_token_expired", "The email verification token has expired; verify the address again."
    )
    try:
        claims = EmailVerificationToken(token)  # signature, expiry and token type
    except ExpiredTokenError:
        raise expired
    except TokenError:
        raise Invalid("verification_token_invalid", "The email verification token is invalid.")
    # A lifetime shortened since the token was issued applies to it too.
    issued_at = claims.get("iat")
    if not isinstance(issued_at, int | float) or issued_at + claims.lifetime.total_seconds() <= time.time():
        raise expired
    email = claims.get(EMAIL_CLAIM)
    if not isinstance(email, str) or not email:
        raise Invalid("verification_token_invalid", "The email verification token is invalid.")
    return email
