"""The product sends, end to end (issue 12's "Done when"): an ACTIVE campaign, a loyalty
program's points-earned message and a promotion, each made and triggered through the API as
their users would, reach one customer once on every channel: the in-app inbox (read through
the API as that customer), a real SMTP server and a real HTTP receiver for SMS and push
(Apprise's json:// target), both on loopback, through the real providers."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from commerce.tests.factories import order_body, order_line_body
from notifications.models import Delivery, DeliveryStatus
from notifications.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CHANNELS = ["EMAIL", "SMS", "PUSH", "IN_APP"]
PHONE = "+919811122233"
DEVICE = "device-asha-1"


@pytest.fixture
def asha(client_for):
    """A customer who agreed to marketing on every channel, has a phone and a push device
    (registered through the API as a client app would)."""
    person = CustomerFactory(
        email="asha@example.com", first_name="Asha", last_name="Rao", phone=PHONE, external_id="C-ASHA"
    )
    person.refresh_from_db()  # the password the factory set after saving is the one a token signs
    client = client_for(person)
    assert client.post("/api/v1/notifications/devices", {"token": DEVICE, "platform": "android"}).status_code in (
        200,
        201,
    )
    person.client = client
    return person


def _campaign_switched_on(admin_client, capture) -> int:
    now = timezone.now()
    body = {
        "name": "Diwali 20",
        "starts_at": (now - dt.timedelta(days=1)).isoformat(),
        "ends_at": (now + dt.timedelta(days=30)).isoformat(),
        "status": "INACTIVE",
        "redemption_type": "COUPON_CODE",
        "code": "diwali20",
        "timezone": "UTC",
        "rules": [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": "20"}],
        "notification": {
            "title": "{{ campaign_name }} for {{ first_name }}",
            "body": "Hi {{ first_name }}, {{ code }} takes 20% off.",
            "cta_text": "Shop",
            "cta_url": "https://shop.example.com/diwali",
            "channels": CHANNELS,
        },
    }
    with capture(execute=True):
        created = admin_client.post("/api/v1/campaigns/discounts/", body, format="json")
    assert created.status_code == 201, created.content
    campaign_id = created.json()["id"]
    assert not Delivery.objects.exists()  # created off: nothing said yet

    with capture(execute=True):
        switched = admin_client.patch(f"/api/v1/campaigns/{campaign_id}/status/", {"status": "ACTIVE"}, format="json")
    assert switched.status_code == 200, switched.content
    return campaign_id


def _points_earned(admin_client, integration_client, capture) -> None:
    program = {
        "name": "Rewards",
        "starts_at": "2025-01-01T00:00:00+05:30",
        "status": "ACTIVE",
        "timezone": "Asia/Kolkata",
        "rules": [{"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "1"}],
        "message_channels": CHANNELS,
        "points_earned_title": "{{ first_name }}, +{{ points }} points",
        "points_earned_body": "You now hold {{ points_balance }} points in {{ program_name }}.",
    }
    created = admin_client.post("/api/v1/loyalty/programs/", program, format="json")
    assert created.status_code == 201, created.content

    order = order_body(
        "O-E2E-1",
        customer={"external_id": "C-ASHA", "email": "asha@example.com"},
        lines=[order_line_body("SKU-1", 1, "450.00")],
        placed_at=timezone.now().isoformat(),
    )
    with capture(execute=True):
        ingested = integration_client.post("/api/v1/commerce/orders/", order, format="json")
    assert ingested.status_code == 201, ingested.content


def _promotion_sent(admin_client, capture, campaign_id: int) -> None:
    body = {
        "title": "Only for you, {{ first_name }}",
        "description": "Use {{ code }} this week, {{ first_name }}.",
        "cta_text": "Open",
        "cta_url": "https://shop.example.com/week",
        "campaign_id": campaign_id,
        "audience": "ALL",
        "channels": CHANNELS,
    }
    created = admin_client.post("/api/v1/promotions/", body, format="json")
    assert created.status_code == 201, created.content
    with capture(execute=True):
        sent = admin_client.post(f"/api/v1/promotions/{created.json()['id']}/send", {}, format="json")
    assert sent.status_code == 200, sent.content
    assert sent.json()["status"] == "SENDING"


EXPECTED = {  # title -> body, as Asha receives them
    "Diwali 20 for Asha": "Hi Asha, DIWALI20 takes 20% off.",
    "Asha, +450 points": "You now hold 450 points in Rewards.",
    "Only for you, Asha": "Use DIWALI20 this week, Asha.",
}


def test_a_campaign_a_points_earned_message_and_a_promotion_reach_the_customer_once_on_every_channel(
    admin_client, integration_client, asha, smtp_server, http_receiver, django_capture_on_commit_callbacks
):
    UserFactory(email="admin-too@example.com", role="ADMIN", is_staff=True)  # staff: never an audience
    capture = django_capture_on_commit_callbacks

    campaign_id = _campaign_switched_on(admin_client, capture)
    _points_earned(admin_client, integration_client, capture)
    _promotion_sent(admin_client, capture, campaign_id)

    # Every delivery went out, to Asha alone, once per source and channel.
    rows = list(Delivery.objects.select_related("message").order_by("pk"))
    assert {(row.recipient_id, row.status, row.last_error) for row in rows} == {(asha.pk, DeliveryStatus.SENT, "")}
    assert sorted((row.title, row.channel) for row in rows) == sorted(
        (title, channel) for title in EXPECTED for channel in CHANNELS
    )

    # The in-app inbox, through the API, as Asha.
    inbox = asha.client.get("/api/v1/notifications/")
    assert inbox.status_code == 200, inbox.content
    answer = inbox.json()
    assert (answer["count"], answer["unread_count"]) == (3, 3)
    assert {item["title"]: item["body"] for item in answer["results"]} == EXPECTED
    assert {item["source"]["type"] for item in answer["results"]} >= {"promotion", "points_earned"}

    # The SMTP server on loopback: three mails, each rendered and carrying one-click unsubscribe.
    mails = smtp_server.messages
    assert sorted(mail["Subject"] for mail in mails) == sorted(EXPECTED)
    assert len({mail["Message-ID"] for mail in mails}) == 3
    for mail in mails:
        assert mail["To"] == "asha@example.com"
        assert mail["List-Unsubscribe"].strip().startswith("<") and "/n/u/" in mail["List-Unsubscribe"]
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert EXPECTED[mail["Subject"]] in mail.get_body(("plain",)).get_content()
        assert EXPECTED[mail["Subject"]] in mail.get_body(("html",)).get_content()

    # The HTTP receiver on loopback: one SMS to her phone and one push to her device per source.
    seen = sorted((request.path, request.body["title"], request.body["message"]) for request in http_receiver.requests)
    phone_path = f"/sms/{PHONE}"
    assert [(path, title) for path, title, _ in seen] == sorted(
        [(phone_path, title) for title in EXPECTED] + [(f"/push/{DEVICE}", title) for title in EXPECTED]
    )
    for _, title, text in seen:
        assert text.startswith(EXPECTED[title])
    assert len({request.headers["Idempotency-Key"] for request in http_receiver.requests}) == 6
