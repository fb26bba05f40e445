"""The caller's in-app inbox over HTTP: listing with unread_count, read, read-all."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import UserFactory
from conftest import client_with_key
from lms.testing import assert_error, run_concurrently
from notifications.content import Content
from notifications.models import Channel, Delivery, DeliveryStatus
from notifications.services.inbox import inbox_item_read, inbox_read_all
from notifications.services.links import click_url
from notifications.services.messages import message_send
from notifications.tests.builders import delivery, message

pytestmark = pytest.mark.django_db

INBOX = "/api/v1/notifications/"


def _read_url(pk: int) -> str:
    return f"/api/v1/notifications/{pk}/read"


def test_a_message_sent_in_app_lands_in_the_customers_inbox_rendered_for_them(
    customer, customer_client, django_capture_on_commit_callbacks
):
    content = Content(
        title="Hi {{ first_name }}",
        body="{{ first_name }}, 20% off today",
        image_url="https://cdn.example.com/b.png",
        cta_text="Shop",
        cta_url="https://shop.example.com/sale",
    )
    with django_capture_on_commit_callbacks(execute=True):
        sent = message_send(
            key="promo:1", source_type="promotion", source_id="5", content=content, channels=["IN_APP"],
            audience={"kind": "customers", "ids": [customer.pk]},
        )  # fmt: skip

    body = customer_client.get(INBOX).json()

    row = Delivery.objects.get(message=sent)
    assert body == {
        "count": 1, "page": 1, "limit": 10, "pages": 1, "unread_count": 1,
        "results": [{
            "id": row.pk, "title": "Hi Asha", "body": "Asha, 20% off today",
            "image_url": "https://cdn.example.com/b.png", "cta_text": "Shop", "cta_url": "https://shop.example.com/sale",
            "link": click_url(row.pk), "status": "SENT", "read": False, "created_at": body["results"][0]["created_at"], "read_at": None,
            "source": {"type": "promotion", "id": "5"},
        }],
    }  # fmt: skip


def test_the_link_is_the_tracked_redirect_and_a_click_reads_the_item(customer, customer_client, client):
    item = delivery(message(cta_url="https://shop.example.com/diwali"), customer)
    plain = delivery(message(cta_text="", cta_url=""), customer)
    items = {i["id"]: i for i in customer_client.get(INBOX).json()["results"]}

    clicked = client.get(items[item.pk]["link"].removeprefix("https://lms.example.com"))

    assert items[plain.pk]["link"] == ""
    assert (clicked.status_code, clicked["Location"]) == (302, "https://shop.example.com/diwali")
    after = {i["id"]: i for i in customer_client.get(INBOX).json()["results"]}
    assert (after[item.pk]["status"], after[item.pk]["read"]) == ("CLICKED", True)
    assert customer_client.get(INBOX).json()["unread_count"] == 1


def test_the_inbox_holds_only_my_delivered_in_app_items_newest_first(customer, customer_client):
    other = UserFactory()
    msg = message()
    old = delivery(msg, customer, age=timedelta(hours=2))
    new = delivery(message(), customer, status=DeliveryStatus.READ, read_at=None)
    clicked = delivery(message(), customer, status=DeliveryStatus.CLICKED, age=timedelta(hours=1))
    delivery(msg, other)  # someone else's
    delivery(msg, customer, channel=Channel.EMAIL)  # not an inbox channel
    for status in (DeliveryStatus.SKIPPED, DeliveryStatus.PENDING, DeliveryStatus.FAILED):
        delivery(message(), customer, status=status)  # never reached the inbox

    body = customer_client.get(INBOX).json()

    assert [item["id"] for item in body["results"]] == [new.pk, clicked.pk, old.pk]
    assert [item["read"] for item in body["results"]] == [True, True, False]
    assert (body["count"], body["unread_count"]) == (3, 1)


def test_the_seed_route_serves_the_same_inbox(customer, customer_client):
    item = delivery(message(), customer)

    for path in ("/notifications", "/notifications/"):
        body = customer_client.get(path).json()
        assert [i["id"] for i in body["results"]] == [item.pk] and body["unread_count"] == 1


def test_unread_filters_the_page_but_unread_count_is_the_whole_inbox(customer, customer_client):
    unread = [delivery(message(), customer) for _ in range(3)]
    read = delivery(message(), customer, status=DeliveryStatus.READ)

    only_unread = customer_client.get(INBOX, {"unread": "true", "limit": 2}).json()
    only_read = customer_client.get(INBOX, {"unread": "false"}).json()

    assert only_unread["count"] == 3 and len(only_unread["results"]) == 2 and only_unread["pages"] == 2
    assert {i["id"] for i in only_unread["results"]} <= {u.pk for u in unread}
    assert [i["id"] for i in only_read["results"]] == [read.pk]
    assert only_unread["unread_count"] == only_read["unread_count"] == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [({"unread": "maybe"}, "unread"), ({"page": "0"}, "page"), ({"limit": "ten"}, "limit"), ({"page": "-1"}, "page")],
)
def test_bad_inbox_parameters_are_a_400_naming_the_parameter(customer_client, params, field):
    response = customer_client.get(INBOX, params)

    assert response.status_code == 400
    body = assert_error(response, 400, response.json()["code"])
    assert field in body["details"] or body["details"].get("param") == field, body


def test_the_inbox_takes_a_constant_number_of_queries(customer, customer_client, django_assert_max_num_queries):
    def inbox_queries(items: int) -> int:
        for _ in range(items):
            delivery(message(), customer)
        with CaptureQueriesContext(connection) as queries:
            assert customer_client.get(INBOX, {"limit": 100}).status_code == 200
        return len(queries)

    few = inbox_queries(2)
    many = inbox_queries(25)

    assert many == few
    with django_assert_max_num_queries(few):
        customer_client.get(INBOX, {"limit": 100})


def test_reading_an_item_marks_it_read_once(customer, customer_client):
    item = delivery(message(), customer)

    first = customer_client.post(_read_url(item.pk))
    again = customer_client.post(_read_url(item.pk))

    assert first.status_code == again.status_code == 200
    assert first.json()["read"] is True and first.json()["status"] == "READ"
    assert first.json()["read_at"] is not None and again.json()["read_at"] == first.json()["read_at"]
    assert customer_client.get(INBOX).json()["unread_count"] == 0


def test_reading_a_clicked_item_keeps_it_clicked(customer, customer_client):
    item = delivery(message(), customer, status=DeliveryStatus.CLICKED)

    body = customer_client.post(_read_url(item.pk)).json()

    item.refresh_from_db()
    assert (body["status"], item.status) == ("CLICKED", DeliveryStatus.CLICKED)
    assert item.read_at is not None


def test_reading_another_customers_notification_is_a_404_and_changes_nothing(customer_client):
    someone_else = UserFactory()
    theirs = delivery(message(), someone_else)

    response = customer_client.post(_read_url(theirs.pk))

    assert_error(response, 404, "not_found")
    theirs.refresh_from_db()
    assert (theirs.status, theirs.read_at) == (DeliveryStatus.SENT, None)


@pytest.mark.parametrize("kind", ["email", "skipped", "missing"])
def test_reading_what_is_not_an_inbox_item_of_mine_is_a_404(customer, customer_client, kind):
    if kind == "email":
        pk = delivery(message(), customer, channel=Channel.EMAIL).pk
    elif kind == "skipped":
        pk = delivery(message(), customer, status=DeliveryStatus.SKIPPED).pk
    else:
        pk = 2**62

    assert_error(customer_client.post(_read_url(pk)), 404, "not_found")


def test_read_all_marks_only_my_unread_items_in_one_statement(customer, customer_client):
    mine = [delivery(message(), customer) for _ in range(3)]
    delivery(message(), customer, status=DeliveryStatus.READ)
    theirs = delivery(message(), UserFactory())

    with CaptureQueriesContext(connection) as queries:
        first = customer_client.post(reverse("notification-read-all"))
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "notifications_delivery"')]
    again = customer_client.post(reverse("notification-read-all"))

    assert (first.json(), again.json()) == ({"updated": 3}, {"updated": 0})
    assert len(updates) == 1
    assert set(Delivery.objects.filter(pk__in=[d.pk for d in mine]).values_list("status", flat=True)) == {"READ"}
    theirs.refresh_from_db()
    assert theirs.status == DeliveryStatus.SENT


@pytest.mark.parametrize("client", ["anonymous", "integration"])
def test_the_inbox_is_for_signed_in_people(client, integration_key, api_client):
    caller = client_with_key(integration_key) if client == "integration" else api_client

    for method, path in (("get", INBOX), ("post", _read_url(1)), ("post", reverse("notification-read-all"))):
        assert getattr(caller, method)(path).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_concurrent_read_all_and_reads_count_each_item_once(customer):
    items = [delivery(message(), customer) for _ in range(6)]

    def work(i: int) -> int:
        # Odd threads read everything, even ones read one item each (items 0, 2 and 4).
        if i % 2:
            return inbox_read_all(user_id=customer.pk)
        inbox_item_read(user_id=customer.pk, delivery_id=items[i].pk)
        return 0

    results = run_concurrently(6, work)

    rows = Delivery.objects.filter(pk__in=[item.pk for item in items])
    assert {(row.status, row.read_at is not None) for row in rows} == {(DeliveryStatus.READ, True)}
    # Items 1, 3 and 5 only read-all could read; no item was counted by two read-alls.
    assert 3 <= sum(results) <= 6
