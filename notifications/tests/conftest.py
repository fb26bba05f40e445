import pytest

from notifications.providers import locmem

LOCMEM = "notifications.providers.locmem.LocmemProvider"


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
