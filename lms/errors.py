"""Domain errors raised by services; the API layer maps them to the one error shape.

``raise Conflict("insufficient_points", "Balance is 40 points; 100 requested.", balance=40)``
answers ``409 {"code": "insufficient_points", "message": ..., "details": {"balance": 40}}``.
"""

from typing import Any


class DomainError(Exception):
    status_code = 400

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class Invalid(DomainError):
    status_code = 400


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409
