import pytest

from notifications.providers import locmem
from notifications.tests.servers import HttpReceiver, SmtpReceiver

LOCMEM = "notifications.providers.locmem.LocmemProvider"
APPRISE = "notifications.providers.apprise.AppriseProvider"


@pytest.fixture(autouse=True)
def _notification_settings(settings):
    """SMS and PUSH to the in-memory outbox, no cap, no quiet hours, unless a test says so."""
    settings.NOTIFICATIONS_PROVIDERS = {**settings.NOTIFICATIONS_PROVIDERS, "SMS": LOCMEM, "PUSH": LOCMEM}
    settings.NOTIFICATIONS_DAILY_CAP = 0
    settings.NOTIFICATIONS_QUIET_HOURS = ""
    settings.NOTIFICATIONS_BASE_URL = "https://lms.example.com"
    settings.NOTIFICATIONS_MESSAGE_ID_DOMAIN = "lms.example.com"
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def outbox() -> list:
    """What the locmem SMS/PUSH provider sent (like mailoutbox for mail)."""
    return locmem.outbox


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
