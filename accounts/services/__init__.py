"""Every write of the accounts domain: OTPs, sign-up, sessions, passwords, profiles."""

from accounts.services.otp import (
    EmailVerification,
    email_token_make,
    email_token_read,
    otp_email_send,
    otp_send,
    otp_verify,
)
from accounts.services.sessions import (
    Session,
    session_end,
    session_refresh,
    session_start,
    sessions_end_all,
    user_signin,
)
from accounts.services.users import (
    PROFILE_FIELDS,
    password_forgot,
    password_reset,
    password_reset_email_send,
    password_reset_token_make,
    password_reset_user,
    user_admin_update,
    user_profile_update,
    user_signup,
)

__all__ = [
    "EmailVerification",
    "PROFILE_FIELDS",
    "Session",
    "email_token_make",
    "email_token_read",
    "otp_email_send",
    "otp_send",
    "otp_verify",
    "password_forgot",
    "password_reset",
    "password_reset_email_send",
    "password_reset_token_make",
    "password_reset_user",
    "session_end",
    "session_refresh",
    "session_start",
    "sessions_end_all",
    "user_admin_update",
    "user_profile_update",
    "user_signin",
    "user_signup",
]
