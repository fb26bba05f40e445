"""Every write of the accounts domain: OTPs, sign-up, sessions, passwords, profiles."""

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from accounts.hooks import Login, logins_emit
from accounts.models import EmailOTP, LoginEvent, Role, User, normalize_email
from lms.errors import Conflict, Forbidden, Invalid, Unauthorized
from lms.mail import templated_mail_send

EMAIL_TOKEN_SALT = "accounts.email-verified"


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
    ttl = int(settings.EMAIL_VERIFICATION_TOKEN_TTL.total_seconds())
    return EmailVerification(token=signing.dumps({"email": email}, salt=EMAIL_TOKEN_SALT), expires_in=ttl)


def email_token_read(*, token: str) -> str:
    """The address a verification token proves; 400 when it is expired or tampered with."""
    try:
        payload = signing.loads(token, salt=EMAIL_TOKEN_SALT, max_age=settings.EMAIL_VERIFICATION_TOKEN_TTL)
    except signing.SignatureExpired:
        raise Invalid(
            "verification_token_expired", "The email verification token has expired; verify the address again."
        )
    except signing.BadSignature:
        raise Invalid("verification_token_invalid", "The email verification token is invalid.")
    return payload["email"]


# --- Sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    user: User
    access: str
    refresh: str


def _refresh_token_for(user: User) -> RefreshToken:
    refresh = RefreshToken.for_user(user)  # records an OutstandingToken, so it can be blacklisted
    refresh["role"] = user.role
    refresh["email"] = user.email
    return refresh


def session_start(
    *, user: User, method: str = LoginEvent.Method.PASSWORD, ip: str | None = None, user_agent: str = ""
) -> Session:
    """Record the login event and issue an access + refresh pair (role in the claims)."""
    with transaction.atomic():
        now = timezone.now()
        LoginEvent.objects.create(user=user, occurred_at=now, method=method, ip=ip, user_agent=user_agent[:256])
        logins_emit([Login(customer_id=user.pk, occurred_at=now)])
        User.objects.filter(pk=user.pk).update(last_login=now)
        user.last_login = now
        refresh = _refresh_token_for(user)
    return Session(user=user, access=str(refresh.access_token), refresh=str(refresh))


def user_signin(*, email: str, password: str, ip: str | None = None, user_agent: str = "") -> Session:
    """Email + password -> a session. Unknown address and wrong password answer alike."""
    # ModelBackend hashes the password even for an unknown address, so both take the same time.
    user = authenticate(email=normalize_email(email), password=password)
    if user is None:
        raise Unauthorized("invalid_credentials", "The email or password is incorrect.")
    return session_start(user=user, ip=ip, user_agent=user_agent)


def _refresh_token_read(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)  # checks signature, expiry, type and the blacklist
    except TokenError as exc:
        raise Unauthorized("token_not_valid", str(exc))


@transaction.atomic
def session_refresh(*, refresh: str) -> Session:
    """Rotate a refresh token: the old one is blacklisted, exactly once.

    simplejwt's own rotation checks the blacklist and then inserts into it without a lock, so
    two concurrent refreshes of one token would both succeed; here the outstanding-token row
    is locked, and the second refresh finds it blacklisted.
    """
    token = _refresh_token_read(refresh)
    # Locks are taken user first, then token, as password_reset and user_admin_update do
    # (they lock the user, then blacklist its tokens): the other order deadlocks with them.
    user = User.objects.select_for_update().filter(pk=token.get(jwt_settings.USER_ID_CLAIM), is_active=True).first()
    if user is None:
        raise Unauthorized("token_not_valid", "The account behind this token is no longer active.")
    outstanding = (
        OutstandingToken.objects.select_for_update(of=("self",)).filter(jti=token[jwt_settings.JTI_CLAIM]).first()
    )
    if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
        raise Unauthorized("token_not_valid", "Token is blacklisted")
    BlacklistedToken.objects.create(token=outstanding)
    new_refresh = _refresh_token_for(user)
    return Session(user=user, access=str(new_refresh.access_token), refresh=str(new_refresh))


@transaction.atomic
def session_end(*, refresh: str) -> None:
    """Sign out: blacklist the refresh token (idempotent for a token already blacklisted)."""
    try:
        token = UntypedToken(refresh)  # signature and expiry; a blacklisted token is fine here
    except TokenError as exc:
        raise Unauthorized("token_not_valid", str(exc))
    if token.get(jwt_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
        raise Unauthorized("token_not_valid", "A refresh token is required to sign out.")
    outstanding = OutstandingToken.objects.filter(jti=token[jwt_settings.JTI_CLAIM]).first()
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)


def sessions_end_all(*, user: User) -> int:
    """Blacklist every refresh token the user holds (after a password change)."""
    pending = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now()).exclude(
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
    return (
        not user.has_usable_password()
        and user.is_active
        and not user.is_staff
        and not user.is_superuser
        and user.role == Role.USER
    )


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
    if user is None or not default_token_generator.check_token(user, inner):
        return None
    return user


def password_forgot(*, email: str) -> None:
    """Mail a reset link when the address has an active account; silent otherwise.

    The request does the same work either way (it enqueues a task with the address), so
    neither its answer nor its timing says whether the account exists; the worker looks.
    """
    from lms.outbox import outbox_enqueue

    outbox_enqueue("accounts.tasks.password_reset_email_send_task", normalize_email(email))


def password_reset_email_send(*, email: str) -> bool:
    """Mail a reset link to an active account's address; nothing for an unknown one. The
    token is made here, in the worker: no secret travels through the broker."""
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None:
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
    if role is not None:
        if user.is_superuser and role != Role.ADMIN:
            raise Conflict("superuser_is_admin", "A superuser always has role ADMIN.")
        user.role = role
    if is_active is not None:
        user.is_active = is_active
    user.save(update_fields=["role", "is_active", "updated_at"])
    if is_active is False:
        sessions_end_all(user=user)
    return user


# --- Housekeeping -----------------------------------------------------------------------------


@transaction.atomic
def auth_records_prune(*, otp_older_than: timedelta = timedelta(days=7)) -> dict[str, int]:
    """Delete OTP rows past their audit window and refresh tokens past their expiry."""
    now = timezone.now()
    otps, _ = EmailOTP.objects.filter(created_at__lt=now - otp_older_than).delete()
    # Blacklist rows cascade with their outstanding token.
    _, deleted = OutstandingToken.objects.filter(expires_at__lte=now).delete()
    return {"otps": otps, "tokens": deleted.get(OutstandingToken._meta.label, 0)}
