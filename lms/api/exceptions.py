"""The one error shape: ``{"code": "...", "message": "...", "details": {...}}``.

Every failure the API can answer with goes through :func:`exception_handler` (DRF errors,
domain errors, Django validation and integrity errors) or through the ``handler4xx/500``
views (errors raised before a DRF view runs: unknown URLs, oversized bodies, bad hosts).
"""

import logging
import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback
from rest_framework_simplejwt.exceptions import InvalidToken

from lms.errors import DomainError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}


# SQLSTATE classes and codes that mean "the database cannot serve us now", not "this request
# is wrong": connection exceptions, too many connections, the server shutting down or starting.
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53")
UNAVAILABLE_SQLSTATES = ("57P01", "57P02", "57P03")
UNAVAILABLE_RETRY_AFTER = "5"
UNAVAILABLE_MESSAGE = "The database is unavailable; retry shortly."


def database_unavailable(exc: BaseException) -> bool:
    """Did ``exc`` come from a database we could not reach (down, refusing, the pool timing out)?

    Deadlocks, integrity and data errors are the request's own and answer otherwise."""
    from psycopg_pool import PoolTimeout

    if isinstance(exc, (PoolTimeout, InterfaceError)):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__ or exc
    if isinstance(cause, PoolTimeout):
        return True
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:
        return True  # no answer from a server at all: the connection failed or was lost
    return sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES or sqlstate in UNAVAILABLE_SQLSTATES


def database_unavailable_log(exc: BaseException) -> None:
    logger.error("Database unavailable, answered 503: %r", exc)


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """``{"criteria": {"all": [{}, {"value": ["bad"]}]}}`` -> ``{"criteria.all[1].value": ["bad"]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # DRF reports list items by position: {"all": {1: {...}}}
                path = f"{prefix}[{key}]"
            elif key == "non_field_errors":
                path = prefix or "non_field_errors"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for k, v in flatten_errors(value, path).items():
                flat.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            if detail:
                flat[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                flat.update(flatten_errors(item, f"{prefix}[{index}]"))
    else:
        flat[prefix or "non_field_errors"] = [str(detail)]
    return flat


def _validation_response(detail: Any) -> Response:
    fields = flatten_errors(detail)
    path, messages = next(iter(fields.items()), ("", ["Invalid input."]))
    message = messages[0] if path in ("", "non_field_errors") else f"{path}: {messages[0]}"
    return Response(error_body("validation_error", message, fields), status=status.HTTP_400_BAD_REQUEST)


def _first_code(detail: Any, default: str) -> str:
    codes = detail.get_codes() if hasattr(detail, "get_codes") else default
    while isinstance(codes, (list, dict)):
        if not codes:
            return default
        codes = codes[0] if isinstance(codes, list) else next(iter(codes.values()))
    return codes if isinstance(codes, str) else default


def _api_exception_response(exc: exceptions.APIException, context: dict) -> Response:
    response = drf_exception_handler(exc, context)  # keeps WWW-Authenticate and Retry-After
    assert response is not None
    if isinstance(exc, exceptions.ValidationError):
        validation = _validation_response(exc.detail)
        validation.headers = response.headers
        return validation
    detail = exc.detail
    details: dict[str, Any] = {}
    if isinstance(exc, InvalidToken):
        # simplejwt nests the real reason ("Token is expired") in its messages list.
        message = str(detail.get("detail", "Token is invalid.")) if isinstance(detail, dict) else str(detail)
        messages = detail.get("messages") if isinstance(detail, dict) else None
        if messages:
            message = str(messages[0].get("message", message))
        code = "token_not_valid"
    elif isinstance(detail, dict):
        message = str(detail.get("detail", exc.default_detail))
        code = str(detail.get("code", _first_code(exc, exc.default_code)))
    else:
        message = str(detail)
        code = _first_code(exc, exc.default_code)
    if isinstance(exc, exceptions.Throttled):
        code = "throttled"
        details["retry_after"] = int(exc.wait) if exc.wait is not None else None
        message = f"Too many requests; retry in {details['retry_after']} seconds." if exc.wait else message
    response.data = error_body(code, message, details)
    return response


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(
        exc, (DomainError, DjangoValidationError, IntegrityError, DataError, OperationalError, InterfaceError)
    ):
        set_rollback()
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return _validation_response(detail)
    if isinstance(exc, IntegrityError):
        # A constraint the code did not check first: the request conflicts with stored state.
        logger.warning("IntegrityError mapped to 409: %s", exc)
        return Response(
            error_body("conflict", "The request conflicts with the current state of the resource."),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", None) in ("40P01", "40001"):
        # A deadlock or serialization failure: PostgreSQL rolled the transaction back; a retry succeeds.
        logger.warning("Transaction rolled back by the database, client asked to retry: %s", exc)
        response = Response(
            error_body("retry", "The request collided with a concurrent one and was rolled back; retry it."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = "1"
        return response
    if database_unavailable(exc):
        database_unavailable_log(exc)
        response = Response(error_body("unavailable", UNAVAILABLE_MESSAGE), status=status.HTTP_503_SERVICE_UNAVAILABLE)
        response["Retry-After"] = UNAVAILABLE_RETRY_AFTER
        return response
    if isinstance(exc, DataError):
        # A value the database cannot hold (too long, out of range) that validation let through.
        logger.warning("DataError mapped to 400: %s", exc)
        return Response(
            error_body("invalid_value", "A value is too long or out of range for where it is stored."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        return _api_exception_response(exc, context)
    return None


def _json_error(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(400, "bad_request", "The request could not be understood (malformed or too large).")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(403, "permission_denied", "You do not have permission to perform this action.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(404, "not_found", f"No route matches {request.path}.")


def unavailable_response() -> JsonResponse:
    response = _json_error(503, "unavailable", UNAVAILABLE_MESSAGE)
    response["Retry-After"] = UNAVAILABLE_RETRY_AFTER
    return response


def server_error(request: HttpRequest) -> JsonResponse:
    # Django calls this while handling the exception (outside a view too: a middleware's
    # session save), so the exception is at hand.
    exc = sys.exc_info()[1]
    if exc is not None and database_unavailable(exc):
        return unavailable_response()
    return _json_error(500, "server_error", "An unexpected error occurred; it has been logged.")
