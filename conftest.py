"""Fixtures shared by every app's tests.

The suite runs on PostgreSQL and Redis (``make test`` points DATABASE_URL and REDIS_URL at
the local servers); it refuses to run on the embedded SQLite default, where its concurrency
tests would prove nothing.
"""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_api_key.models import APIKey

from accounts.models import User
from accounts.services import session_start
from accounts.tests.factories import UserFactory
from commerce.services.api_keys import api_keys_forget
from lms.celery import app as celery_app
from notifications.tests.servers import HttpReceiver, SmtpReceiver


def pytest_configure(config):
    # Scrypt costs ~0.1 s of CPU per hash by design, and most tests make users with passwords
    # (UserFactory, the fixtures below): a third of the suite's time went to it. Tests hash
    # with MD5 (fast, never for production); the production hashers stay listed after it, so
    # their hashes still verify, and the tests of scrypt itself put it back
    # (accounts/tests/test_sessions.py).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    # At the session's start, not at collection: under pytest-xdist the controller collects
    # nothing, and a worker's refusal would surface as a crash without this message. Before
    # xdist starts its workers (tryfirst).
    from django.db import connection

    if connection.vendor != "postgresql":
        raise pytest.UsageError(
            "The test suite runs on PostgreSQL and Redis: use `make test`, or set DATABASE_URL and REDIS_URL."
        )


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters live in the cache; each test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _api_keys_checked_every_call():
    # Tests change keys straight in the database (.update()), which a process's memory of
    # valid keys would only see after API_KEY_CACHE_SECONDS; the tests of that memory turn
    # it on (campaigns/tests/test_evaluate_costs.py). Not pytest-django's ``settings``
    # fixture: a test parameter of that name (loyalty's program settings) would shadow it.
    with override_settings(API_KEY_CACHE_SECONDS=0):
        api_keys_forget()
        yield
        api_keys_forget()


@pytest.fixture(autouse=True)
def _eager_celery():
    # Tasks run in the test's own process unless a test starts a real worker (see
    # accounts/tests/test_worker.py), which switches this off for its duration.
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = True


@pytest.fixture
def rates(monkeypatch):
    """``rates(scope="N/h", ...)`` sets throttle rates for the test (DRF copies the settings'
    rates onto the throttle class at import, so the class attribute is what counts)."""

    def set_rates(**given: str) -> None:
        merged = {**SimpleRateThrottle.THROTTLE_RATES, **given}
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", merged)

    return set_rates


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def customer(db):
    return UserFactory(email="asha@example.com", first_name="Asha", last_name="Rao")


@pytest.fixture
def admin_user(db):
    return UserFactory(email="admin@example.com", role="ADMIN", is_staff=True)


def _client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session_start(user=user).access}")
    return client


@pytest.fixture
def customer_client(customer) -> APIClient:
    return _client_for(customer)


@pytest.fixture
def admin_client(admin_user) -> APIClient:
    return _client_for(admin_user)


@pytest.fixture
def root(db) -> User:
    """The console's superuser (root@example.com)."""
    return User.objects.create_superuser(email="root@example.com", password="Root-Password-1")


@pytest.fixture
def console(client, root):
    """A superuser's console session: Django's test client logged in as ``root`` (the root
    ``admin_client`` is an API client with an ADMIN's token)."""
    client.force_login(root)
    return client


@pytest.fixture
def client_for():
    """``client_for(user)``: an API client carrying that user's access token."""
    return _client_for


@pytest.fixture
def integration_key(db) -> str:
    """A real API key of the e-commerce integration (hashed in the database)."""
    _, key = APIKey.objects.create_key(name="storefront")
    return key


def client_with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def integration_client(integration_key) -> APIClient:
    return client_with_key(integration_key)


# --- Local receivers of the real notification providers (loopback only) ---------------------------

APPRISE = "notifications.providers.apprise.AppriseProvider"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback behind Django's SMTP backend."""
    server = SmtpReceiver().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()


@pytest.fixture
def http_receiver(settings):
    """A real HTTP server on loopback that SMS and PUSH reach through Apprise's json:// target."""
    receiver = HttpReceiver().start()
    settings.NOTIFICATIONS_PROVIDERS = {**settings.NOTIFICATIONS_PROVIDERS, "SMS": APPRISE, "PUSH": APPRISE}
    settings.NOTIFICATIONS_SMS_URL = receiver.url("sms/{to}")
    settings.NOTIFICATIONS_PUSH_URL = receiver.url("push/{to}")
    yield receiver
    receiver.stop()
