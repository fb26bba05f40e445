"""A small, realistic world for the API-wide proofs (schema fuzzing, the role matrix).

The demo catalogue, customers and orders, the demo campaigns (DIWALI20 and friends) and the
demo loyalty program, plus a segment, a redemption and the identities that call the API:
an ADMIN, two customers and the e-commerce integration's key.
"""

from dataclasses import dataclass, field

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_api_key.models import APIKey

from accounts.models import User
from accounts.services import session_start
from accounts.tests.factories import UserFactory
from campaigns.demo import demo_campaigns_seed
from campaigns.models import Campaign, SimulationRun, SimulationStatus
from commerce import demo
from commerce.models import Order, Product
from loyalty.demo import demo_loyalty_seed
from loyalty.models import LoyaltyProgram
from notifications.content import Content
from notifications.models import Delivery, DeliveryStatus, Message, PushDevice
from notifications.services.links import click_url, unsubscribe_url
from notifications.services.messages import message_fanout, message_send
from promotions.services import promotion_create
from segments.tests.factories import SegmentFactory, StaticSegmentFactory, city_is


@dataclass
class World:
    admin: User
    customer: User
    other_customer: User
    integration_key: str
    # Per path template of the schema, real values of its path parameters.
    path_values: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # One real id of each kind: campaign, discount, segment, program, customer, order, sku.
    ids: dict[str, str] = field(default_factory=dict)

    def headers_for(self, identity: str) -> dict[str, str]:
        """The Authorization header of an identity: anonymous, user, other_user, admin, integration."""
        if identity == "anonymous":
            return {}
        if identity == "integration":
            return {"Authorization": f"Api-Key {self.integration_key}"}
        user = {"user": self.customer, "other_user": self.other_customer, "admin": self.admin}[identity]
        return {"Authorization": f"Bearer {session_start(user=user).access}"}


@pytest.fixture
def unthrottled(monkeypatch):
    """Every throttle scope at a rate no proof reaches: a run of hundreds of calls is not a run of 429s."""
    rates = {scope: "1000000/m" for scope in SimpleRateThrottle.THROTTLE_RATES}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def _redeem(key: str, *, order: Order, sku: str) -> None:
    """A checkout with DIWALI20 through the API, as the platform makes it."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    body = {
        "order_id": order.external_id,
        "customer": {"id": order.customer_id},
        "codes": ["DIWALI20"],
        "lines": [{"sku": sku, "quantity": 2, "unit_price": "800.00"}],
    }
    response = client.post("/api/v1/redemptions/", body, format="json")
    assert response.status_code == 201, response.content


def _announce(*customers: User) -> dict:
    """A promotion's in-app message in both customers' inboxes (the customer's item first)."""
    content = Content(title="Hi {{ first_name }}", body="20% off", cta_text="Shop", cta_url="https://shop.example.com/")
    message = message_send(
        key="promotion:fuzz", source_type="promotion", source_id="1", content=content, channels=["IN_APP"],
        audience={"kind": "customers", "ids": [c.pk for c in customers]},
    )  # fmt: skip
    # Fan-out starts on commit, which a test's own transaction never reaches: run it now
    # (where it already ran on commit, this finds the message done).
    message_fanout(message_id=message.pk)
    inbox = [Delivery.objects.get(message=message, recipient=c).pk for c in customers]
    return {"message": str(message.pk), "inbox": inbox}


@pytest.fixture
def api_world(db) -> World:
    now = timezone.now()
    demo.seed(demo.DemoSpec(seed=11, products=12, customers=8, orders=30, events_per_customer=1.0, as_of=now))
    demo_campaigns_seed(now=now)
    program = demo_loyalty_seed(now=now)

    orders = list(Order.objects.select_related("customer").order_by("pk"))
    customer = orders[0].customer
    other_order = next(order for order in orders if order.customer_id != customer.pk)
    other_customer = other_order.customer
    customer_order = next(order for order in orders if order.customer_id == customer.pk)
    admin = UserFactory(email="fuzz-admin@example.com", role="ADMIN", is_staff=True)
    _, key = APIKey.objects.create_key(name="storefront")

    skus = list(Product.objects.order_by("pk").values_list("sku", flat=True)[:3])
    for order in (customer_order, other_order):
        _redeem(key, order=order, sku=skus[0])
    announcement = _announce(customer, other_customer)
    device = PushDevice.objects.create(user=customer, token="fuzz-device-token", platform="android")
    dynamic = SegmentFactory(name="Pune shoppers", criteria=city_is("Pune"))
    static = StaticSegmentFactory(name="VIP list")
    promotions = [
        promotion_create(title="Diwali week", description="Use {{ code }}.", channels=["IN_APP"], created_by=admin),
        promotion_create(
            title="For the VIPs", description="Hi {{ first_name }}", audience="SEGMENTS", segment_ids=[static.pk]
        ),
    ]

    discounts = list(Campaign.objects.filter(kind="DISCOUNT_COUPON").order_by("pk").values_list("pk", flat=True))
    campaigns = list(Campaign.objects.exclude(pk=program.pk).order_by("pk").values_list("pk", flat=True))
    ids = [str(pk) for pk in campaigns[:3]]
    segment_ids = [str(dynamic.pk), str(static.pk)]
    programs = [str(pk) for pk in LoyaltyProgram.objects.values_list("pk", flat=True)]
    customers = [str(customer.pk), str(other_customer.pk)]
    promotion_ids = [str(promotion.pk) for promotion in promotions]
    order_ids = [customer_order.external_id, other_order.external_id]

    # A marketing mail the customer received: its tracked link and its unsubscribe link.
    message = Message.objects.create(
        key="world:mail", source_type="promotion", title="Sale", body="Sale", cta_url="https://shop.example.com/",
        channels=["EMAIL"], audience={"kind": "customers", "ids": [customer.pk]},
    )  # fmt: skip
    mail = Delivery.objects.create(message=message, recipient=customer, channel="EMAIL", status=DeliveryStatus.SENT)

    simulation = SimulationRun.objects.create(campaign_id=discounts[0], days=7, status=SimulationStatus.PENDING)

    def each(name: str, values: list[str]) -> list[dict[str, str]]:
        return [{name: value} for value in values]

    world = World(admin=admin, customer=customer, other_customer=other_customer, integration_key=key)
    world.path_values = {
        "/api/v1/campaigns/{id}/": each("id", ids),
        "/api/v1/campaigns/{id}/status/": each("id", ids),
        "/api/v1/campaigns/{id}/codes/assign/": each("id", [str(pk) for pk in discounts]),
        "/api/v1/campaigns/{id}/codes/distribute/": each("id", [str(pk) for pk in discounts]),
        "/api/v1/campaigns/{id}/simulate/": each("id", [str(pk) for pk in discounts]),
        "/api/v1/simulations/{id}/": each("id", [str(simulation.pk)]),
        "/api/v1/campaigns/discounts/{id}/codes/": each("id", [str(pk) for pk in discounts]),
        "/api/v1/campaigns/discounts/{id}/codes/export/": each("id", [str(pk) for pk in discounts]),
        "/api/v1/campaigns/discounts/{id}/codes/import/": each("id", [str(pk) for pk in discounts]),
        "/api/v1/commerce/orders/{external_id}/": each("external_id", order_ids),
        "/api/v1/commerce/products/{sku}/": each("sku", skus),
        "/api/v1/loyalty/accounts/{customer}/adjust/": each("customer", customers),
        "/api/v1/loyalty/accounts/{customer}/transactions/": each("customer", customers),
        "/api/v1/loyalty/programs/{id}/": each("id", programs),
        "/api/v1/loyalty/programs/{id}/status/": each("id", programs),
        "/api/v1/loyalty/programs/{id}/simulate/": each("id", programs),
        "/api/v1/redemptions/{order_id}/": each("order_id", order_ids),
        "/api/v1/redemptions/{order_id}/void/": each("order_id", order_ids),
        "/api/v1/promotions/{id}/": each("id", promotion_ids),
        "/api/v1/promotions/{id}/send/": each("id", promotion_ids),
        "/api/v1/promotions/{id}/cancel/": each("id", promotion_ids),
        "/api/v1/segments/{id}/": each("id", segment_ids),
        "/api/v1/segments/{id}/members/": each("id", segment_ids),
        "/api/v1/segments/{id}/members/export/": each("id", segment_ids),
        "/api/v1/segments/{id}/refresh/": each("id", segment_ids),
        "/api/v1/users/{id}/": each("id", customers),
        "/api/v1/notifications/{id}/read": each("id", [str(pk) for pk in announcement["inbox"]]),
        "/api/v1/notifications/messages/{id}/": each("id", [announcement["message"]]),
        "/api/v1/notifications/devices/{device}": each("device", [str(device.pk), device.token]),
    }
    world.ids = {
        "campaign": ids[0],
        "discount": str(discounts[0]),
        "segment": segment_ids[0],
        "promotion": promotion_ids[0],
        "program": programs[0],
        "simulation": str(simulation.pk),
        "customer": customers[0],
        "order": order_ids[0],
        "sku": skus[0],
        "inbox_item": str(announcement["inbox"][0]),  # the customer's own
        "message": announcement["message"],
        "push_device": str(device.pk),  # the customer's own
        # The schema's path without its trailing slash: the /api/ fallback serves it in place.
        "api_other_spelling": "schema",
        "notification_click": click_url(mail.pk).rsplit("/", 1)[-1],
        "notification_unsubscribe": unsubscribe_url(mail.pk).rsplit("/", 1)[-1],
    }
    return world
