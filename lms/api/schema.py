"""Schema helpers: the error shape as an OpenAPI component, declared on every operation."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: otp_invalid, email_taken, throttled, ...")
    message = serializers.CharField(help_text="A sentence for people.")
    details = serializers.DictField(help_text="Context: field paths with their messages, limits, retry_after.")


_DESCRIPTIONS = {
    400: "Invalid input (validation_error, or a domain code).",
    401: "Not authenticated, or bad credentials/token.",
    403: "Authenticated but not allowed.",
    404: "Not found.",
    409: "Conflicts with the current state.",
    415: "A body in a media type the route does not take (unsupported_media_type).",
    429: "Throttled; see the Retry-After header.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse(ErrorOutput, description=_DESCRIPTIONS[status]) for status in statuses}


# The probes are documented beside the API. /metrics is left out on purpose: it speaks
# Prometheus's text format to a scraper, not JSON to an API client, and answers 404 unless
# METRICS_ENABLED, so the schema would describe a route most deployments do not serve.
PROBES = ("/healthz", "/readyz")


def canonical_only(endpoints: list) -> list:
    """Preprocessing hook: document the canonical routes; the seed routes are the same views
    and are listed in the README's table instead of appearing twice here."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/") or endpoint[0] in PROBES]
