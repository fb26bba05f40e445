"""Settings: production-safe defaults, the deploy check, CORS, logging.

The settings are read once per process, so what depends on the environment runs in a
subprocess with exactly the variables a deployment would set.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

REPO_ROOT = Path(django_settings.BASE_DIR)
# What the test run sets (make test: DEBUG=true) and a deployment chooses for itself.
DEPLOYMENT_CHOICES = (
    "DEBUG", "SECRET_KEY", "JWT_SIGNING_KEY", "ALLOWED_HOSTS", "CORS_ALLOWED_ORIGINS", "NUM_PROXIES",
    "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_KEY_PREFIX",
)  # fmt: skip
STRONG_KEY = secrets.token_urlsafe(50)


def _python(code: str, **env_changes: str) -> subprocess.CompletedProcess:
    """``code`` run after ``django.setup()`` in a fresh process with only ``env_changes`` chosen."""
    env = {key: value for key, value in os.environ.items() if key not in DEPLOYMENT_CHOICES}
    env.update(DJANGO_SETTINGS_MODULE="lms.settings", PYTHONUNBUFFERED="1", **env_changes)
    return subprocess.run(
        [sys.executable, "-c", f"import django\ndjango.setup()\n{code}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _production(**env_changes: str) -> dict[str, str]:
    # The embedded database, cache and broker: these tests are about the HTTP layer, and
    # /readyz then answers at once.
    return {
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "lms.example.com,testserver",
        "DATABASE_URL": "sqlite://:memory:",
        **env_changes,
    }


def test_debug_is_off_when_unset():
    result = _python("from django.conf import settings; print(settings.DEBUG)", **_production())

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_no_secret_key_is_refused_without_debug():
    result = _python("", ALLOWED_HOSTS="lms.example.com")

    assert result.returncode != 0
    assert "DEBUG is off and SECRET_KEY is not set" in result.stderr


def test_the_development_key_is_refused_without_debug_even_when_set_explicitly():
    dev_key = django_settings.DEV_SECRET_KEY

    as_secret = _python("", SECRET_KEY=dev_key)
    as_jwt_key = _python("", SECRET_KEY=STRONG_KEY, JWT_SIGNING_KEY=dev_key)

    assert as_secret.returncode != 0
    assert "SECRET_KEY is the development key" in as_secret.stderr
    assert as_jwt_key.returncode != 0
    assert "JWT_SIGNING_KEY is the development key" in as_jwt_key.stderr


def test_the_development_key_signs_only_with_debug_on():
    code = (
        "from django.conf import settings; print(json.dumps([settings.SECRET_KEY, settings.SIMPLE_JWT['SIGNING_KEY']]))"
    )

    debug = _python(f"import json\n{code}", DEBUG="true")
    production = _python(f"import json\n{code}", **_production())

    dev_key = django_settings.DEV_SECRET_KEY
    assert json.loads(debug.stdout) == [dev_key, dev_key]
    assert json.loads(production.stdout) == [STRONG_KEY, STRONG_KEY]


def test_deploy_check_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env={
            **{key: value for key, value in os.environ.items() if key not in DEPLOYMENT_CHOICES},
            **_production(CORS_ALLOWED_ORIGINS="https://shop.example.com"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_redirects_http_to_https_but_not_the_health_probe():
    code = """
from django.test import Client
client = Client()
print(client.get("/api/v1/me").status_code, client.get("/api/v1/me")["Location"])
print(client.get("/healthz").status_code, client.get("/readyz").status_code, client.get("/metrics").status_code)
print(client.get("/api/v1/me", secure=True).headers.get("Strict-Transport-Security"))
"""
    result = _python(code, **_production(METRICS_ENABLED="true", METRICS_TOKEN=STRONG_KEY))

    assert result.returncode == 0, result.stderr
    redirect, health, hsts = result.stdout.strip().splitlines()
    assert redirect == "301 https://testserver/api/v1/me"
    # Both probes and the scrape (refused for want of its token, not redirected), on plain http.
    assert health == "200 200 401"
    assert hsts == "max-age=31536000; includeSubDomains; preload"


def test_the_forwarded_scheme_is_trusted_only_behind_a_proxy():
    code = """
from django.test import Client
print(Client().get("/api/v1/me", HTTP_X_FORWARDED_PROTO="https").wsgi_request.is_secure())
"""
    alone = _python(code, **_production())
    behind_proxy = _python(code, **_production(NUM_PROXIES="1"))

    assert alone.stdout.strip() == "False"
    assert behind_proxy.stdout.strip() == "True"


def test_cors_origins_come_from_the_environment():
    code = "from django.conf import settings; print(' '.join(settings.CORS_ALLOWED_ORIGINS))"

    result = _python(code, **_production(CORS_ALLOWED_ORIGINS="https://shop.example.com,https://app.example.com"))
    unset = _python(code, **_production())

    assert result.stdout.split() == ["https://shop.example.com", "https://app.example.com"]
    assert unset.stdout.strip() == ""


def _preflight(api_client, origin: str):
    return api_client.options(
        "/api/v1/cart/evaluate",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=["https://shop.example.com"])
def test_a_preflight_from_an_allowed_origin_is_allowed(api_client):
    response = _preflight(api_client, "https://shop.example.com")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type", "idempotency-key"} <= set(
        response["Access-Control-Allow-Headers"].split(", ")
    )


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=["https://shop.example.com"])
def test_a_preflight_from_another_origin_gets_no_cors_headers(api_client):
    response = _preflight(api_client, "https://evil.example.com")

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Headers" not in response


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=["https://shop.example.com"])
def test_a_cross_origin_answer_exposes_retry_after(api_client):
    response = api_client.get("/api/v1/me", HTTP_ORIGIN="https://shop.example.com")

    assert response["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert "Retry-After" in response["Access-Control-Expose-Headers"]


def test_a_request_log_line_prints_once():
    code = 'from django.test import Client\nClient().get("/api/v1/no-such-route-4711")'

    result = _python(code, DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Not Found: /api/v1/no-such-route-4711") == 1, result.stderr
