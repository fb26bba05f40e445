"""``/healthz``: is the database, the cache and the broker reachable? 200 or 503."""

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
    key = "healthz:probe"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise RuntimeError("the cache did not return what was written")


def _check_broker() -> str:
    if celery_app.conf.broker_url.startswith("memory"):
        return "eager"  # the embedded default has no broker: tasks run in-process
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        tags=["ops"],
        operation_id="healthz",
        summary="Database, cache and broker reachability",
        responses={
            (200, "application/json"): inline_serializer(
                "HealthOutput",
                {"status": serializers.CharField(), "checks": serializers.DictField(child=serializers.CharField())},
            ),
            (503, "application/json"): inline_serializer(
                "HealthFailureOutput",
                {"status": serializers.CharField(), "checks": serializers.DictField(child=serializers.CharField())},
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
                logger.exception("healthz: %s check failed", name)
                checks[name] = "error"
        healthy = all(not v.startswith("error") for v in checks.values())
        return Response(
            {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
        )
