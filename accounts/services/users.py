"""Sign-up, passwords, profiles and roles, housekeeping of auth records."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.models import LoginEvent, Role, User, normalize_email
from accounts.services.otp import email_token_read
from accounts.services.sessions import Session, session_start, sessions_end_all
from lms.errors import Conflict, Forbidden, Invalid
from lms.mail import templated_mail_send

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
