"""``Authorization: Api-Key <key>`` for the e-commerce integration.

Keys are djangorestframework-api-key's: stored hashed, shown once at creation
(``manage.py create_api_key NAME`` or the admin), revocable. Authentication answers 401 with
a precise code for an unknown, revoked or expired key; the permission below lets a valid key
or an ADMIN through.

A key found valid is remembered by each process for a short while
(``commerce.services.api_keys``): see there how soon a revocation takes effect.
"""

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework_api_key.models import APIKey
from rest_framework_api_key.permissions import KeyParser

from commerce.services.api_keys import api_key_verified
from lms.api.permissions import is_admin_role
from lms.api.throttling import AtomicRateThrottle

KEYWORD = "Api-Key"


class ApiKeyFailed(exceptions.AuthenticationFailed):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(detail={"detail": message, "code": code})


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        key = KeyParser().get(request)
        if key is None:
            return None  # not an Api-Key header: let the other authenticators look
        prefix, _, _ = key.partition(".")
        if "\x00" in key or len(prefix) > 8:  # cannot be a key; PostgreSQL refuses NUL in text
            raise ApiKeyFailed("api_key_invalid", "The API key is not valid.")
        api_key = api_key_verified(key=key)
        if api_key is None:
            raise ApiKeyFailed("api_key_invalid", "The API key is not valid.")
        if api_key.revoked:
            raise ApiKeyFailed("api_key_revoked", f"The API key {api_key.name!r} has been revoked.")
        if api_key.has_expired:
            raise ApiKeyFailed("api_key_expired", f"The API key {api_key.name!r} has expired.")
        return AnonymousUser(), api_key

    def authenticate_header(self, request) -> str:
        return KEYWORD


def is_integration(request) -> bool:
    return isinstance(request.auth, APIKey)


def acting_customer(request):
    """The signed-in customer when one calls for themselves; None when the integration or an
    ADMIN calls on a customer's behalf (or nobody is signed in)."""
    user = request.user
    if is_integration(request) or not user.is_authenticated or is_admin_role(user):
        return None
    return user


class IsIntegrationOrAdmin(permissions.BasePermission):
    """The e-commerce integration (a valid API key) or a person with role ADMIN."""

    message = "This route is for the e-commerce integration (Authorization: Api-Key <key>) or an ADMIN."

    def has_permission(self, request, view) -> bool:
        return is_integration(request) or is_admin_role(request.user)


class IntegrationRateThrottle(AtomicRateThrottle):
    """Its own budget per API key (or per ADMIN), apart from anonymous sign-up traffic: a
    fixed window counted with one atomic increment (one Redis round trip, no lost updates
    between parallel calls, unlike DRF's read-then-write history)."""

    scope = "integration"

    def get_cache_key(self, request, view):
        ident = f"key:{request.auth.prefix}" if is_integration(request) else f"user:{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "commerce.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "The integration's key: `Api-Key <key>` (created with `manage.py create_api_key NAME`).",
        }
