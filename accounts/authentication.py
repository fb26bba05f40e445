"""Bearer authentication that ends with the session: simplejwt's access-token check plus the
two revocation claims every token of ours carries.

- ``ver``: the user's ``token_version`` when the token was issued. A password reset, a
  deactivation or a role change bumps the version, ending every session at once.
- ``fam``: the token family (one sign-in's chain of refresh tokens). Signing out, or reusing
  a refresh token that was already rotated, revokes the family and so its access tokens.
- ``hash_password`` (simplejwt's ``CHECK_REVOKE_TOKEN``): a digest of the password hash, so a
  password changed any way at all, even outside our services, ends the tokens issued before.

Both are read from the one query that loads the user, so a request costs no extra query.
"""

import uuid

from django.db.models import Exists, OuterRef, Value
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import TokenFamily, User

VERSION_CLAIM = "ver"
FAMILY_CLAIM = "fam"


def token_family_id(token: Token) -> uuid.UUID | None:
    """The family a token belongs to; None for tokens issued before families existed."""
    raw = token.get(FAMILY_CLAIM)
    if raw is None:
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise InvalidToken("Token is invalid")


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's bearer authentication, refusing tokens of an ended session."""

    def get_user(self, validated_token: Token) -> User:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc
        family = token_family_id(validated_token)
        live = (
            Exists(TokenFamily.objects.filter(pk=family, user=OuterRef("pk"), revoked_at__isnull=True))
            if family
            else Value(True)
        )
        user = User.objects.annotate(session_live=live).filter(pk=user_id).first()
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if not token_is_current(validated_token, user) or not user.session_live:
            raise InvalidToken("The session has ended; sign in again.")
        return user


def token_is_current(token: Token, user: User) -> bool:
    """The token was issued under the user's present token version and password."""
    if token.get(VERSION_CLAIM, 0) != user.token_version:
        return False
    if api_settings.CHECK_REVOKE_TOKEN:
        return token.get(api_settings.REVOKE_TOKEN_CLAIM) == get_md5_hash_password(user.password)
    return True


class JWTAuthenticationScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of :class:`JWTAuthentication` (simplejwt's bearer JWT)."""

    target_class = "accounts.authentication.JWTAuthentication"
