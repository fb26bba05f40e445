"""Every write of the accounts domain: OTPs, sign-up, sessions, passwords, profiles."""

import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from accounts.authentication import FAMILY_CLAIM, VERSION_CLAIM, token_family_id, token_is_current
from accounts.hooks import Login, logins_emit
from accounts.models import EmailOTP, LoginEvent, Role, TokenFamily, User, normalize_email
from accounts.tokens import EMAIL_CLAIM, EmailVerificationToken
from lms.errors import Conflict, Forbidden, Invalid, Unauthorized
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


# --- Sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    user: User
    access: str
    refresh: str


def _refresh_token_for(user: User, family: TokenFamily) -> RefreshToken:
    """A refresh token of ``family``; its access tokens copy every claim but type and expiry."""
    refresh = RefreshToken.for_user(user)  # records an OutstandingToken, so it can be blacklisted
    refresh["role"] = user.role
    refresh["email"] = user.email
    refresh[VERSION_CLAIM] = user.token_version
    refresh[FAMILY_CLAIM] = str(family.pk)
    family.current_jti = refresh[jwt_settings.JTI_CLAIM]
    family.save()
    return refresh


def session_start(
    *, user: User, method: str = LoginEvent.Method.PASSWORD, ip: str | None = None, user_agent: str = ""
) -> Session:
    """Record the login event and issue an access + refresh pair (role in the claims) of a new
    token family."""
    with transaction.atomic():
        now = timezone.now()
        LoginEvent.objects.create(user=user, occurred_at=now, method=method, ip=ip, user_agent=user_agent[:256])
        logins_emit([Login(customer_id=user.pk, occurred_at=now)])
        User.objects.filter(pk=user.pk).update(last_login=now)
        user.last_login = now
        user.token_version = User.objects.values_list("token_version", flat=True).get(pk=user.pk)
        refresh = _refresh_token_for(user, TokenFamily(user=user, created_at=now))
    return Session(user=user, access=str(refresh.access_token), refresh=str(refresh))


def user_signin(*, email: str, password: str, ip: str | None = None, user_agent: str = "") -> Session:
    """Email + password -> a session. Unknown address and wrong password answer alike."""
    # ModelBackend hashes the password even for an unknown address, so both take the same time.
    user = authenticate(email=normalize_email(email), password=password)
    if user is None:
        raise Unauthorized("invalid_credentials", "The email or password is incorrect.")
    return session_start(user=user, ip=ip, user_agent=user_agent)


def _refresh_claims_read(raw: str) -> UntypedToken:
    """Signature, expiry and type of a refresh token; the blacklist is the caller's to judge."""
    try:
        token = UntypedToken(raw)
    except TokenError as exc:
        raise Unauthorized("token_not_valid", str(exc))
    if token.get(jwt_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
        raise Unauthorized("token_not_valid", "Token has wrong type; a refresh token is required.")
    return token


def _family_revoke(family: TokenFamily, *, at: datetime) -> None:
    """End a token family: its refresh token may not rotate, its access tokens are refused."""
    outstanding = OutstandingToken.objects.filter(jti=family.current_jti).first()
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)
    if family.revoked_at is None:
        family.revoked_at = at
        family.save(update_fields=["revoked_at"])


def session_refresh(*, refresh: str) -> Session:
    """Rotate a refresh token: the old one is blacklisted, exactly once.

    A refresh token that was already rotated and comes back has been copied: its whole family
    is revoked (the thief's successor tokens and the owner's alike), and the call is refused.

    simplejwt's own rotation checks the blacklist and then inserts into it without a lock, so
    two concurrent refreshes of one token would both succeed; here the family and the
    outstanding-token rows are locked, and the second refresh finds the token blacklisted.
    """
    token = _refresh_claims_read(refresh)
    family_id = token_family_id(token)
    failure: Unauthorized | None = None
    # The revocation must be committed although the call fails: raised after the transaction.
    with transaction.atomic():
        # Locks are taken user, family, token, as password_reset and user_admin_update do (they
        # lock the user, then revoke its families and tokens): another order deadlocks with them.
        user = User.objects.select_for_update().filter(pk=token.get(jwt_settings.USER_ID_CLAIM), is_active=True).first()
        if user is None:
            raise Unauthorized("token_not_valid", "The account behind this token is no longer active.")
        family = TokenFamily.objects.select_for_update().filter(pk=family_id, user=user).first() if family_id else None
        outstanding = (
            OutstandingToken.objects.select_for_update(of=("self",)).filter(jti=token[jwt_settings.JTI_CLAIM]).first()
        )
        if not token_is_current(token, user) or (family_id and family is None):
            failure = Unauthorized("token_not_valid", "The session has ended; sign in again.")
        elif family is not None and family.revoked_at is not None:
            failure = Unauthorized("token_not_valid", "Token is blacklisted")
        elif outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
            if family is not None:
                _family_revoke(family, at=timezone.now())
            failure = Unauthorized("token_not_valid", "Token is blacklisted")
        else:
            BlacklistedToken.objects.create(token=outstanding)
            family = family or TokenFamily(user=user)
            new_refresh = _refresh_token_for(user, family)
    if failure is not None:
        raise failure
    return Session(user=user, access=str(new_refresh.access_token), refresh=str(new_refresh))


@transaction.atomic
def session_end(*, refresh: str) -> None:
    """Sign out: end the refresh token's family, its access tokens included (idempotent for a
    session already ended)."""
    token = _refresh_claims_read(refresh)  # a blacklisted token is fine here
    family_id = token_family_id(token)
    family = (
        TokenFamily.objects.select_for_update()
        .filter(pk=family_id, user_id=token.get(jwt_settings.USER_ID_CLAIM))
        .first()
        if family_id
        else None
    )
    if family is not None:
        _family_revoke(family, at=timezone.now())
    outstanding = OutstandingToken.objects.filter(jti=token[jwt_settings.JTI_CLAIM]).first()
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)


@transaction.atomic
def sessions_end_all(*, user: User) -> int:
    """End every session of the user, access tokens included (password reset, deactivation,
    role change): bump the token version, revoke the families, blacklist the refresh tokens."""
    now = timezone.now()
    # An increment in the UPDATE itself: two concurrent bumps both count, neither is lost.
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.token_version = User.objects.values_list("token_version", flat=True).get(pk=user.pk)
    TokenFamily.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    pending = OutstandingToken.objects.filter(user=user, expires_at__gt=now).exclude(
        pk__in=BlacklistedToken.objects.values("token_id")
    )
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=t) for t in pending], ignore_conflicts=True)
    return len(pending)


# --- Sign-up ----------------------------------------------------------------------------------


def _password_check(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise DjangoValidationError({"password": exc.messages})


def _claimable(user: User) -> bool:
    """A customer record the e-commerce integration created: no password yet, and nothing
    that sign-up could use to gain more than a customer's access."""
    return not user.has_usable_password() and user.is_active and user.is_plain_customer


def user_signup(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    verification_token: str,
    ip: str | None = None,
    user_agent: str = "",
) -> Session:
    """Create the account for a verified address, or claim the customer record the
    e-commerce integration created for it earlier (no password yet). Never sets a role."""
    email = normalize_email(email)
    if email_token_read(token=verification_token) != email:
        raise Invalid("verification_token_mismatch", "The verification token was issued for another address.")
    now = timezone.now()
    try:
        with transaction.atomic():
            # Lock the integration's record, if any, so two sign-ups cannot both claim it.
            user = User.objects.select_for_update().filter(email=email).first()
            if user is not None and not _claimable(user):
                raise Conflict("email_taken", "An account with this email already exists; sign in instead.")
            if user is None:
                user = User(email=email, role=Role.USER)
            user.first_name, user.last_name = first_name, last_name
            _password_check(password, user)
            user.set_password(password)
            user.email_verified_at = user.email_verified_at or now
            user.save()
            return session_start(user=user, method=LoginEvent.Method.SIGNUP, ip=ip, user_agent=user_agent)
    except IntegrityError:
        # A concurrent sign-up for the same address inserted first (unique email).
        raise Conflict("email_taken", "An account with this email already exists; sign in instead.")


# --- Passwords --------------------------------------------------------------------------------


def password_reset_token_make(*, user: User) -> str:
    """One opaque token: the user id and Django's reset token, which expires after
    ``PASSWORD_RESET_TIMEOUT`` and dies when the password (or last login) changes."""
    return f"{urlsafe_base64_encode(force_bytes(user.pk))}.{default_token_generator.make_token(user)}"


def password_reset_user(*, token: str, lock: bool = False) -> User | None:
    """The user a reset token is valid for, or None."""
    uid, _, inner = (token or "").partition(".")
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, OverflowError):
        return None
    users = User.objects.select_for_update() if lock else User.objects
    user = users.filter(pk=pk, is_active=True).first()
    if user is None or not _may_reset(user) or not default_token_generator.check_token(user, inner):
        return None
    return user


def _may_reset(user: User) -> bool:
    # Only someone who has set a password may reset it by mail. An account without one is
    # either a customer record nobody has claimed (its owner signs up instead) or a console
    # account made without a password (`changepassword` sets it): a reset link for either
    # would go to an address its owner never proved.
    return user.is_active and user.has_usable_password()


def password_forgot(*, email: str) -> None:
    """Mail a reset link when the address has an active account; silent otherwise.

    The request does the same work either way (it enqueues a task with the address), so
    neither its answer nor its timing says whether the account exists; the worker looks.
    """
    from lms.outbox import outbox_enqueue

    outbox_enqueue("accounts.tasks.password_reset_email_send_task", normalize_email(email))


def password_reset_email_send(*, email: str) -> bool:
    """Mail a reset link to an account that may reset; nothing for an unknown one. The
    token is made here, in the worker: no secret travels through the broker."""
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None or not _may_reset(user):
        return False
    token = password_reset_token_make(user=user)
    templated_mail_send(
        template="password_reset",
        to=user.email,
        context={
            "user": user,
            "token": token,
            "link": _with_query(settings.PASSWORD_RESET_URL, token=token),
            "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        },
    )
    return True


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


@transaction.atomic
def password_reset(*, token: str, password: str) -> User:
    """Set a new password with a reset token; the token (and every session) dies with it."""
    # Locked so two resets with one token cannot both pass the check before either saves.
    user = password_reset_user(token=token, lock=True)
    if user is None:
        raise Invalid("reset_token_invalid", "The reset link is invalid or has expired; request a new one.")
    _password_check(password, user)
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    sessions_end_all(user=user)
    return user


# --- Profiles and roles -----------------------------------------------------------------------

PROFILE_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "phone",
        "country",
        "state",
        "city",
        "marketing_email",
        "marketing_sms",
        "marketing_push",
    }
)


@transaction.atomic
def user_profile_update(*, user: User, **changes) -> User:
    """Change the person's own profile fields; email and role are not among them."""
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:
        raise Invalid("validation_error", f"Not editable here: {', '.join(sorted(unknown))}.")
    for field, value in changes.items():
        setattr(user, field, value)
    user.save(update_fields=[*changes, "updated_at"])
    return user


@transaction.atomic
def user_admin_update(*, user: User, by: User, role: str | None = None, is_active: bool | None = None) -> User:
    """An administrator changes another account's role or active flag."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_superuser and not by.is_superuser:
        raise Forbidden("superuser_protected", "Only a superuser may change a superuser's account.")
    if user.pk == by.pk and (role == Role.USER or is_active is False):
        raise Conflict("self_demotion", "You cannot demote or deactivate your own account.")
    before_role = user.role
    if role is not None:
        if user.is_superuser and role != Role.ADMIN:
            raise Conflict("superuser_is_admin", "A superuser always has role ADMIN.")
        user.role = role
    if is_active is not None:
        user.is_active = is_active
    role_changed = role is not None and role != before_role
    user.save(update_fields=["role", "is_active", "updated_at"])
    if is_active is False or role_changed:
        # Tokens carry the role: a session of the old role must not outlive the change.
        sessions_end_all(user=user)
    return user


# --- Housekeeping -----------------------------------------------------------------------------


@transaction.atomic
def auth_records_prune(*, otp_older_than: timedelta = timedelta(days=7)) -> dict[str, int]:
    """Delete OTP rows past their audit window, refresh tokens past their expiry and the token
    families that can no longer issue any."""
    now = timezone.now()
    otps, _ = EmailOTP.objects.filter(created_at__lt=now - otp_older_than).delete()
    # A family whose current refresh token has expired can issue nothing more, and its access
    # tokens (shorter-lived, issued no later than that refresh token) have expired too.
    families, _ = TokenFamily.objects.exclude(
        current_jti__in=OutstandingToken.objects.filter(expires_at__gt=now).values("jti")
    ).delete()
    # Blacklist rows cascade with their outstanding token.
    _, deleted = OutstandingToken.objects.filter(expires_at__lte=now).delete()
    return {"otps": otps, "tokens": deleted.get(OutstandingToken._meta.label, 0), "token_families": families}
