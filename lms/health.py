"""Probes for a load balancer or orchestrator: ``/healthz`` (liveness) and ``/readyz`` (readiness).

They answer different questions. Liveness asks "is this process able to answer at all?" and
touches nothing outside it: an orchestrator restarts a process whose liveness fails, and a
PostgreSQL or Redis outage must never make it restart every healthy process at once.
Readiness asks "can this process serve traffic now?": a load balancer takes a process whose
database, cache or broker is unreachable out of rotation until they are back.
"""

import logging

from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lms.celery import app as celery_app

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = "readyz:probe"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise RuntimeError("the cache did not return what was written")


def _check_broker() -> str:
    if celery_app.conf.broker_url.startswith("memory"):
        return "eager"  # the embedded default has no broker: tasks run in-process
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


class _ProbeView(APIView):
    # A probe carries no credentials and must never be throttled: a 429 would read as "down".
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class LivenessView(_ProbeView):
    @extend_schema(
        tags=["ops"],
        operation_id="healthz",
        summary="Liveness: the process answers (no database, cache or broker is touched)",
        responses={(200, "application/json"): inline_serializer("LivenessOutput", {"status": serializers.CharField()})},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


_CHECKS = serializers.DictField(child=serializers.CharField(), help_text="database, cache, broker: ok, eager or error")


class ReadinessView(_ProbeView):
    @extend_schema(
        tags=["ops"],
        operation_id="readyz",
        summary="Readiness: the database, the cache and the broker are reachable",
        responses={
            (200, "application/json"): inline_serializer(
                "ReadinessOutput", {"status": serializers.CharField(), "checks": _CHECKS}
            ),
            (503, "application/json"): inline_serializer(
                "ReadinessFailureOutput", {"status": serializers.CharField(), "checks": _CHECKS}
            ),
        },
    )
    def get(self, request: Request) -> Response:
        checks: dict[str, str] = {}
        for name, check in (("database", _check_database), ("cache", _check_cache), ("broker", _check_broker)):
            try:
                checks[name] = check() or "ok"
            except Exception:  # any failure is the answer, not an error
                # The details (hosts, users) go to the log, not to a public endpoint.
                logger.exception("readyz: %s check failed", name)
                checks[name] = "error"
        ready = all(value != "error" for value in checks.values())
        return Response({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
