"""Swagger's example bodies for sign-up and sign-in. The sign-in one is ``make run``'s
development admin; ``lms/tests/test_api_examples.py`` checks both."""

from drf_spectacular.utils import OpenApiExample

SIGNUP = [
    OpenApiExample(
        "Sign up with the verified address",
        request_only=True,
        value={
            "first_name": "Ravi",
            "last_name": "Menon",
            "email": "ravi.menon@example.com",
            "password": "Kesari-Chai-2026",
            "token": "the token POST /api/v1/auth/otp/verify answered",
        },
    )
]

SIGNIN = [
    OpenApiExample(
        "make run's development admin",
        request_only=True,
        value={"email": "admin@lms.local", "password": "admin"},
    )
]
