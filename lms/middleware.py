"""Answers for failures of what we depend on, raised outside DRF's exception handler."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from lms.api.exceptions import database_unavailable, database_unavailable_log, unavailable_response


class DatabaseUnavailableMiddleware:
    """A view that is not DRF's (the console, the schema pages) whose database is down answers
    ``503 unavailable`` with ``Retry-After``, not a 500 or, with DEBUG on, a traceback page.
    Errors raised in other middleware reach ``handler500`` (:func:`lms.api.exceptions.server_error`),
    which answers the same."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_unavailable(exception):
            database_unavailable_log(exception)
            return unavailable_response()
        return None
