"""The JWT that proves an address (OTP verification -> sign-up).

Signed like the session tokens (simplejwt's backend, ``SIMPLE_JWT`` settings) but of its own
type, ``email_verification``: simplejwt refuses it wherever an access or refresh token is
expected, and sign-up refuses access and refresh tokens.
"""

from datetime import timedelta

from django.conf import settings
from rest_framework_simplejwt.tokens import Token

EMAIL_CLAIM = "email"


class EmailVerificationToken(Token):
    token_type = "email_verification"

    @property
    def lifetime(self) -> timedelta:  # read at issue time, so settings overrides apply
        return settings.EMAIL_VERIFICATION_TOKEN_TTL
