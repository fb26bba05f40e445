"""The project's own small routes: the favicon, and the fallback behind every unmatched ``/api/`` path."""

from pathlib import Path

from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from lms.api.exceptions import page_not_found

FAVICON = Path(__file__).resolve().parent / "static" / "lms" / "favicon.ico"


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> FileResponse:
    return FileResponse(FAVICON.open("rb"), content_type="image/x-icon")


@csrf_exempt  # dispatches only to DRF views, which are exempt and check their own authentication
def api_fallback(request: HttpRequest, rest: str = "") -> HttpResponse:
    """An ``/api/`` path no route matched: the same path with or without its trailing slash, else a JSON 404.

    Clients write ``/api/v1/me`` and ``/api/v1/me/`` alike; a redirect (APPEND_SLASH) would
    drop a POST's body, so the other spelling is served in place. Anything else under
    ``/api/`` answers the error shape even with DEBUG on, never Django's HTML page.
    """
    path = request.path_info
    other = path[:-1] if path.endswith("/") else f"{path}/"
    try:
        match = resolve(other, urlconf=getattr(request, "urlconf", None))
    except Resolver404:
        match = None
    if match is None or match.func is api_fallback or not getattr(match.func, "csrf_exempt", False):
        return page_not_found(request)
    request.resolver_match = match
    return match.func(request, *match.args, **match.kwargs)
