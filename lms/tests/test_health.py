"""/healthz (liveness: nothing outside the process) and /readyz (the database, the cache, the broker).

The outages are real: a dependency's URL points at a port nothing listens on, in-process for
the cache and the broker, in a fresh process for the database (its pool is made at start).
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache

from lms.celery import app as celery_app

REPO_ROOT = Path(__file__).resolve().parents[2]
QUICK = 2.0  # seconds a probe may take with a dependency down (the broker's connect timeout is 1 s)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket closes


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0"}}


@pytest.fixture
def broker_down(monkeypatch):
    # The environment's broker URLs win over the configured one (celery's Settings): clear them.
    for name in ("CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{_closed_port()}/0")


def _fresh_process(code: str, **env_changes: str) -> dict:
    """Run ``code`` (which prints one JSON line last) after django.setup() in a new process."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "lms.settings", "PYTHONUNBUFFERED": "1", **env_changes}
    result = subprocess.run(
        [sys.executable, "-c", f"import django\ndjango.setup()\n{code}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "log": result.stderr}


PROBE_BOTH = """
import json, time
from django.test import Client
client, answers = Client(), {}
for path in ("/healthz", "/readyz", "/metrics"):
    started = time.monotonic()
    response = client.get(path)
    answers[path] = [response.status_code, response.content.decode(), time.monotonic() - started]
print(json.dumps(answers))
"""


@pytest.mark.django_db
def test_healthz_is_200_without_touching_the_database_the_cache_or_the_broker(
    api_client, django_assert_num_queries, cache_down, broker_down
):
    with django_assert_num_queries(0):
        response = api_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_stays_200_in_a_process_whose_postgresql_redis_and_broker_are_all_unreachable():
    closed = _closed_port()
    answers = _fresh_process(
        PROBE_BOTH,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed}/lms",
        DATABASE_POOL_TIMEOUT="1",
        REDIS_URL=f"redis://127.0.0.1:{closed}/0",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{closed}/1",
        METRICS_ENABLED="true",
    )

    health_status, health_body, health_seconds = answers["/healthz"]
    assert (health_status, json.loads(health_body)) == (200, {"status": "ok"})
    assert health_seconds < QUICK
    ready_status, ready_body, _ = answers["/readyz"]
    assert ready_status == 503
    assert json.loads(ready_body) == {
        "status": "unavailable",
        "checks": {"database": "error", "cache": "error", "broker": "error"},
    }
    # The reasons are in the log only: the public answer names no host, port or user.
    assert str(closed) not in ready_body
    for name in ("database", "cache", "broker"):
        assert f"readyz: {name} check failed" in answers["log"]
    # A scrape still answers: what could not be read says so.
    metrics_status, metrics_body, _ = answers["/metrics"]
    assert metrics_status == 200
    assert "lms_celery_broker_up 0.0" in metrics_body
    assert 'lms_metrics_collector_up{collector="outbox"} 0.0' in metrics_body


def test_readyz_is_503_naming_the_database_when_postgresql_is_unreachable():
    answers = _fresh_process(
        PROBE_BOTH, DATABASE_URL=f"postgres://postgres@127.0.0.1:{_closed_port()}/lms", DATABASE_POOL_TIMEOUT="1"
    )

    status, body, _ = answers["/readyz"]
    assert (status, json.loads(body)) == (
        503,
        {"status": "unavailable", "checks": {"database": "error", "cache": "ok", "broker": "ok"}},
    )
    assert answers["/healthz"][0] == 200


@pytest.mark.django_db
def test_readyz_is_ok_on_postgresql_and_redis(api_client):
    response = api_client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_naming_the_cache_when_redis_is_down(cache_down, api_client):
    response = api_client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "cache": "error", "broker": "ok"}}
    assert cache.get("readyz:probe") is None


@pytest.mark.django_db
def test_readyz_is_503_quickly_naming_the_broker_when_it_is_down(broker_down, api_client):
    started = time.monotonic()
    response = api_client.get("/readyz")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "cache": "ok", "broker": "error"}}
    assert elapsed < 4 * QUICK, f"/readyz took {elapsed:.1f}s with the broker down"


@pytest.mark.django_db
def test_the_probes_are_never_throttled(api_client, rates):
    rates(anon="1/m", user="1/m")

    answers = [api_client.get(path).status_code for path in ("/healthz", "/readyz") for _ in range(3)]

    assert answers == [200] * 6
    # For contrast, a route open to anonymous callers is throttled at the same rate.
    contrast = [api_client.get("/api/v1/auth/password/reset?token=x").status_code for _ in range(2)]
    assert contrast[-1] == 429, contrast
