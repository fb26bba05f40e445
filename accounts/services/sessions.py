"""Sessions: sign-in, JWT refresh-token families (rotation, reuse detection), sign-out."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import authenticate
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from accounts.authentication import FAMILY_CLAIM, VERSION_CLAIM, token_family_id, token_is_current
from accounts.hooks import Login, logins_emit
from accounts.models import LoginEvent, TokenFamily, User, normalize_email
from lms.errors import Unauthorized

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
