"""The request id and the access log: one line per request, written by the application.

gunicorn's own access log is off (gunicorn.conf.py): this line, with the request id, the
route and the user id, is the access log.
"""

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from lms.logs import (
    REQUEST_ID_HEADER,
    request_id_bind,
    request_id_new,
    request_id_sane,
    request_id_unbind,
)

logger = logging.getLogger("lms.access")

# Path parameters that authorise by themselves (the notification links' signed tokens): the
# access line shows the route instead of the value.
SECRET_PATH_PARAMETERS = ("token",)


def _user_id(request: HttpRequest) -> int | None:
    user = request.__dict__.get("user")
    # A session user no view looked at is still lazy: resolving it only for the log line
    # would cost a query on every request.
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.pk if getattr(user, "is_authenticated", False) else None


def _path(request: HttpRequest) -> str:
    path = request.path
    match = request.resolver_match
    for name in SECRET_PATH_PARAMETERS:
        value = match.kwargs.get(name) if match is not None else None
        if isinstance(value, str) and value:
            path = path.replace(value, f"<{name}>")
    return path


class RequestLogMiddleware:
    """Takes the request id from a sane incoming ``X-Request-ID`` or makes one, binds it to
    every log line written while the request is handled (and to the tasks it enqueues),
    echoes it on the response, whatever answered, and writes the access line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.headers.get(REQUEST_ID_HEADER)
        rejected = incoming is not None and not request_id_sane(incoming)
        request_id = incoming if incoming is not None and not rejected else request_id_new()
        request.request_id = request_id
        token = request_id_bind(request_id)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            self._log(request, response, duration=time.perf_counter() - started, rejected=rejected)
        finally:
            request_id_unbind(token)
        return response

    def _log(self, request: HttpRequest, response: HttpResponse, *, duration: float, rejected: bool) -> None:
        match = request.resolver_match
        fields = {
            "method": request.method,
            "path": _path(request),
            "route": match.route if match is not None else None,
            "status": response.status_code,
            "duration_ms": round(duration * 1000, 2),
            "user_id": _user_id(request),
        }
        if rejected:
            fields["request_id_rejected"] = True  # the bad value itself is never written
        # Not ERROR: the failure itself is logged (django.request, with its traceback) and reported
        # to Sentry once; an ERROR here would be a second Sentry event for every 5xx.
        level = logging.WARNING if response.status_code >= 500 else logging.INFO
        logger.log(level, "%s %s %s", request.method, fields["path"], response.status_code, extra=fields)
