"""Prometheus metrics: the HTTP middleware that counts and times requests, and ``/metrics``.

Off unless ``METRICS_ENABLED``; ``METRICS_TOKEN`` makes a scrape send ``Authorization: Bearer``.
Under gunicorn every worker process writes its counters to files in
``PROMETHEUS_MULTIPROC_DIR`` (gunicorn.conf.py makes a fresh one per start) and a scrape
answered by any worker adds up all of them. Without that directory (``make run``, the tests)
the process's own registry is the answer.

Gauges that describe the whole system rather than one process (queue depth, outbox backlog)
are read at scrape time by collectors that apps register in :data:`scrape_collectors`; each
returns Prometheus metric families and must cost a constant number of queries.
"""

import functools
import hmac
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

from lms.api.exceptions import error_body, page_not_found
from lms.registry import Registry

logger = logging.getLogger(__name__)

UNMATCHED = "<unmatched>"
STATIC = "<static>"
# Any other method is one label: a client inventing methods cannot grow the series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# An API answers in milliseconds; the slowest console export runs for seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# A "_created" timestamp beside every series doubles the scrape for nothing Prometheus uses.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "lms_http_requests", "HTTP requests answered, by route template, method and status.", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "lms_http_request_duration_seconds",
    "Time to answer an HTTP request (to the start of a streamed body), by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)

ScrapeCollector = Callable[[], Iterable[Metric]]
scrape_collectors: Registry[ScrapeCollector] = Registry("metrics scrape collectors")

_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>")


def _group_end(route: str, start: int) -> int:
    """The index just past the group opening at ``start`` (nested groups and escapes skipped)."""
    depth, index = 0, start
    while index < len(route):
        if route[index] == "\\":
            index += 2
            continue
        depth += {"(": 1, ")": -1}.get(route[index], 0)
        index += 1
        if depth == 0:
            break
    return index


@functools.lru_cache(maxsize=1024)
def route_label(route: str) -> str:
    """A URLconf route as a readable label: ``api/v1/campaigns/(?P<pk>[^/.]+)/?$`` → ``api/v1/campaigns/<pk>``.

    Routes come from the URLconf, never from the request's path, so the labels are a fixed set.
    Both spellings of a route's trailing slash are one label.
    """
    parts, index = [], 0
    while index < len(route):
        char = route[index]
        if char == "\\":
            parts.append(route[index + 1 : index + 2])  # an escaped character stands for itself
            index += 2
        elif char == "(":
            named = _NAMED_GROUP.match(route, index)
            parts.append(f"<{named.group(1)}>" if named else "<arg>")
            index = _group_end(route, index)
        else:
            parts.append(char)
            index += 1
    label = "".join(parts).removeprefix("^").removesuffix("$").replace("/?", "/")
    return label.rstrip("/") or "/"


def request_route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        # Whitenoise answers static files before URL resolution; anything else no route matched.
        return STATIC if request.path_info.startswith(f"/{settings.STATIC_URL.lstrip('/')}") else UNMATCHED
    if match.url_name == "api-fallback":  # an /api/ path no route matched (its other spelling is served as it)
        return UNMATCHED
    return route_label(match.route)


class RequestMetricsMiddleware:
    """Counts and times every request, the ones other middleware answer included (it is the outermost)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.METRICS_ENABLED:
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = request_route(request)
        method = request.method if request.method in METHODS else "other"
        HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(route, method).observe(elapsed)
        return response


class _ScrapeTime:
    """The registered scrape-time collectors; one that fails costs its own metrics, not the scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "lms_metrics_collector_up",
            "1 when a scrape-time collector could read its source, else 0.",
            labels=["collector"],
        )
        for name, collector in scrape_collectors.items():
            try:
                families = list(collector())
            except Exception:
                logger.exception("metrics: the %s collector failed", name)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    registry.register(_ScrapeTime())
    return registry


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def _token_refusal(request: HttpRequest) -> JsonResponse | None:
    token = settings.METRICS_TOKEN
    if not token:
        return None
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        refusal = _error(401, "not_authenticated", "Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.")
    elif not hmac.compare_digest(given.strip().encode(), token.encode()):
        refusal = _error(401, "authentication_failed", "The metrics token is not valid.")
    else:
        return None
    refusal["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return refusal


@csrf_exempt  # no session, no cookie: another method gets its 405 in the error shape, not a CSRF page
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text format; 404 while metrics are off, as if the route did not exist."""
    if not settings.METRICS_ENABLED:
        return page_not_found(request)
    refusal = _token_refusal(request)
    if refusal is not None:
        return refusal
    if request.method not in ("GET", "HEAD"):
        response = _error(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
        response["Allow"] = "GET, HEAD"
        return response
    # Prometheus asks for OpenMetrics when it can; anything else gets the classic text format.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(scrape_registry()), content_type=content_type)
