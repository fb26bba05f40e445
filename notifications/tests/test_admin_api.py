"""The administrators' notifications API: deliveries with filters, messages with their counts,
the test send and retrying failed deliveries (their bad input; sending is h-core's)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from lms.testing import assert_error
from notifications.models import Channel, DeliveryStatus
from notifications.tests.builders import delivery, message

pytestmark = pytest.mark.django_db

DELIVERIES = "/api/v1/notifications/deliveries/"
MESSAGES = "/api/v1/notifications/messages/"
TEST_SEND = "/api/v1/notifications/test"
RETRY = "/api/v1/notifications/deliveries/retry"


@pytest.fixture
def world(customer):
    other = UserFactory(email="ravi@example.com")
    promo = message(source_type="promotion", source_id="5", channels=["IN_APP", "EMAIL"])
    campaign = message(source_type="campaign", source_id="12", channels=["EMAIL"])
    rows = {
        "promo_app": delivery(promo, customer, age=timedelta(days=3)),
        "promo_mail": delivery(promo, customer, channel=Channel.EMAIL, status=DeliveryStatus.FAILED),
        "promo_other": delivery(promo, other, status=DeliveryStatus.READ, read_at=timezone.now()),
        "campaign_mail": delivery(campaign, other, channel=Channel.EMAIL, status=DeliveryStatus.SKIPPED),
    }
    return {"promo": promo, "campaign": campaign, "customer": customer, "other": other, **rows}


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_deliveries_are_listed_with_their_source_and_recipient(admin_client, world):
    body = admin_client.get(DELIVERIES, {"limit": 100}).json()

    assert body["count"] == 4
    row = next(r for r in body["results"] if r["id"] == world["promo_mail"].pk)
    assert row["source"] == {"type": "promotion", "id": "5"}
    assert row["recipient"] == {"id": world["customer"].pk, "email": "asha@example.com"}
    assert (row["channel"], row["status"], row["message"]) == ("EMAIL", "FAILED", world["promo"].pk)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"source_type": "promotion"}, {"promo_app", "promo_mail", "promo_other"}),
        ({"source_type": "campaign", "source_id": "12"}, {"campaign_mail"}),
        ({"status": "FAILED"}, {"promo_mail"}),
        ({"channel": "EMAIL"}, {"promo_mail", "campaign_mail"}),
        ({"recipient": "RAVI@example.com"}, {"promo_other", "campaign_mail"}),
        ({"recipient": "nobody@example.com"}, set()),
        ({"recipient": "99999999999999999999999"}, set()),
    ],
)
def test_deliveries_filter_by_source_status_channel_and_recipient(admin_client, world, params, expected):
    assert _ids(admin_client.get(DELIVERIES, params)) == {world[name].pk for name in expected}


def test_deliveries_filter_by_message_recipient_id_and_dates(admin_client, world):
    by_message = admin_client.get(DELIVERIES, {"message": world["campaign"].pk})
    by_recipient = admin_client.get(DELIVERIES, {"recipient": world["customer"].pk})
    recent = admin_client.get(DELIVERIES, {"created_after": (timezone.now() - timedelta(days=1)).isoformat()})
    old = admin_client.get(DELIVERIES, {"created_before": (timezone.now() - timedelta(days=1)).isoformat()})

    assert _ids(by_message) == {world["campaign_mail"].pk}
    assert _ids(by_recipient) == {world["promo_app"].pk, world["promo_mail"].pk}
    assert _ids(old) == {world["promo_app"].pk}
    assert _ids(recent) == {world[n].pk for n in ("promo_mail", "promo_other", "campaign_mail")}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "LOST"}, "status"),
        ({"channel": "FAX"}, "channel"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"message": "first"}, "message"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_bad_delivery_filters_are_a_400_naming_the_filter(admin_client, params, field):
    response = admin_client.get(DELIVERIES, params)

    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["details"] or body["details"].get("param") == field, body


def test_the_deliveries_list_takes_a_constant_number_of_queries(admin_client, customer):
    def queries(rows: int) -> int:
        for _ in range(rows):
            delivery(message(), UserFactory())
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(DELIVERIES, {"limit": 100}).status_code == 200
        return len(captured)

    admin_client.get(DELIVERIES)  # warm up
    assert queries(2) == queries(20)


def test_messages_are_listed_with_their_counts(admin_client, world):
    now = timezone.now()
    delivery(world["promo"], UserFactory(), status=DeliveryStatus.CLICKED, clicked_at=now, read_at=now)
    delivery(world["promo"], UserFactory(), channel=Channel.EMAIL, status=DeliveryStatus.PENDING)
    delivery(world["promo"], UserFactory(), channel=Channel.EMAIL, unsubscribed_at=now)

    body = admin_client.get(MESSAGES).json()

    assert [m["id"] for m in body["results"]] == [world["campaign"].pk, world["promo"].pk]
    promo = body["results"][1]
    assert promo["source"] == {"type": "promotion", "id": "5"}
    assert promo["counts"] == {
        "sent": 4, "failed": 1, "skipped": 0, "pending": 1, "read": 2, "clicked": 1, "unsubscribed": 1
    }  # fmt: skip
    assert body["results"][0]["counts"] == {
        "sent": 0, "failed": 0, "skipped": 1, "pending": 0, "read": 0, "clicked": 0, "unsubscribed": 0
    }  # fmt: skip


def test_messages_filter_by_source(admin_client, world):
    assert _ids(admin_client.get(MESSAGES, {"source_type": "campaign", "source_id": "12"})) == {world["campaign"].pk}
    assert_error(admin_client.get(MESSAGES, {"status": "SOMETIMES"}), 400, "validation_error")


def test_the_messages_list_counts_in_one_query_for_the_page(admin_client, customer):
    def queries(messages: int) -> int:
        for _ in range(messages):
            msg = message()
            delivery(msg, customer)
            delivery(msg, customer, channel=Channel.EMAIL, status=DeliveryStatus.FAILED)
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(MESSAGES, {"limit": 100}).status_code == 200
        return len(captured)

    admin_client.get(MESSAGES)  # warm up
    assert queries(2) == queries(15)


def test_one_message_has_its_counts_per_channel(admin_client, world):
    body = admin_client.get(f"{MESSAGES}{world['promo'].pk}/").json()

    assert body["audience"] == {"kind": "all"} and body["channels"] == ["IN_APP", "EMAIL"]
    assert body["counts"]["sent"] == 2 and body["counts"]["failed"] == 1
    assert body["by_channel"]["IN_APP"]["sent"] == 2 and body["by_channel"]["IN_APP"]["read"] == 1
    assert body["by_channel"]["EMAIL"]["failed"] == 1
    assert_error(admin_client.get(f"{MESSAGES}{2**62}/"), 404, "not_found")


def test_the_admin_routes_refuse_customers(customer_client, world):
    for method, path in (
        ("get", DELIVERIES), ("get", MESSAGES), ("get", f"{MESSAGES}{world['promo'].pk}/"),
        ("post", TEST_SEND), ("post", RETRY),
    ):  # fmt: skip
        assert getattr(customer_client, method)(path, {}, format="json").status_code == 403, path


def test_a_staff_user_needs_the_model_permission(client_for, world):
    staff = UserFactory(is_staff=True)
    assert client_for(staff).get(DELIVERIES).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_delivery"))

    allowed = client_for(staff)
    assert allowed.get(DELIVERIES).status_code == 200
    assert allowed.get(MESSAGES).status_code == 403
    assert allowed.post(RETRY, {"ids": [1]}, format="json").status_code == 403


# --- The test send and retry: bad input, each naming its field --------------------------------

CONTENT = {"title": "Hello", "body": "A test"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "FAX", "to": "a@example.com", "content": CONTENT}, "channel"),
        ({"channel": "EMAIL", "to": "not-an-address", "content": CONTENT}, "to"),
        ({"channel": "EMAIL", "content": CONTENT}, "to"),
        ({"channel": "EMAIL", "to": "a@example.com"}, "content"),
        (
            {"channel": "EMAIL", "to": "a@example.com",
             "content": {**CONTENT, "cta_text": "Go", "cta_url": "javascript:alert(1)"}},
            "content.cta_url",
        ),
        (
            {"channel": "PUSH", "to": "token", "content": {**CONTENT, "image_url": "data:image/png;base64,AAAA"}},
            "content.image_url",
        ),
        ({"channel": "SMS", "to": "+919800000000", "content": {**CONTENT, "title": "Hi {{ first_name"}}, "content.title"),
        ({"channel": "SMS", "to": "+919800000000", "content": {**CONTENT, "body": "{{ password }}"}}, "content.body"),
        ({"channel": "IN_APP", "to": "1", "content": {**CONTENT, "body": "x" * 5001}}, "content.body"),
        ({"channel": "EMAIL", "to": "a@example.com", "content": {"title": "", "body": "b"}}, "content.title"),
    ],
)  # fmt: skip
def test_a_bad_test_send_is_a_400_naming_the_field(admin_client, body, field):
    response = admin_client.post(TEST_SEND, body, format="json")

    details = assert_error(response, 400, "validation_error")["details"]
    assert field in details, details


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": ["one"]}, "ids[0]"),
        ({"ids": [1, 2.5]}, "ids[1]"),
        ({"ids": [0]}, "ids[0]"),
        ({"ids": []}, "ids"),
        ({"ids": "1,2"}, "ids"),
        ({}, "ids"),
    ],
)
def test_a_bad_retry_is_a_400_naming_the_field(admin_client, body, field):
    details = assert_error(admin_client.post(RETRY, body, format="json"), 400, "validation_error")["details"]
    assert field in details, details


# --- The test send and retry, working ----------------------------------------------------------


def test_a_test_mail_goes_out_now_and_answers_its_delivery(admin_client, admin_user, mailoutbox):
    body = {"channel": "EMAIL", "to": "qa@example.com", "content": {**CONTENT, "title": "Hi {{ first_name }}"}}

    response = admin_client.post(TEST_SEND, body, format="json")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["status"], answer["channel"], answer["address"]) == ("SENT", "EMAIL", "qa@example.com")
    assert answer["source"]["type"] == "test_send" and answer["recipient"]["id"] == admin_user.pk
    [mail] = mailoutbox
    assert mail.to == ["qa@example.com"] and mail.subject.startswith(f"Hi {admin_user.first_name}")


@pytest.mark.parametrize(("channel", "to"), [("SMS", "+919800000001"), ("PUSH", "device-token-1")])
def test_a_test_sms_or_push_goes_to_its_provider(admin_client, outbox, channel, to):
    response = admin_client.post(TEST_SEND, {"channel": channel, "to": to, "content": CONTENT}, format="json")

    assert response.json()["status"] == "SENT", response.content
    assert len(outbox) == 1


def test_a_test_in_app_message_lands_in_the_named_inbox(admin_client, customer, customer_client):
    response = admin_client.post(
        TEST_SEND, {"channel": "IN_APP", "to": customer.email, "content": CONTENT}, format="json"
    )

    assert response.json()["recipient"]["id"] == customer.pk
    assert [item["title"] for item in customer_client.get("/api/v1/notifications/").json()["results"]] == ["Hello"]


@pytest.mark.parametrize("to", ["²", "9" * 40, "nobody@example.com"])
def test_a_test_in_app_message_to_no_account_is_a_400_naming_to(admin_client, to):
    response = admin_client.post(TEST_SEND, {"channel": "IN_APP", "to": to, "content": CONTENT}, format="json")

    assert "to" in assert_error(response, 400, "validation_error")["details"]


def test_retry_requeues_failed_deliveries_only_and_sends_them(
    admin_client, customer, mailoutbox, world, django_capture_on_commit_callbacks
):
    failed = world["promo_mail"]
    customer.marketing_email = True
    customer.save(update_fields=["marketing_email"])

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(RETRY, {"ids": [failed.pk, world["promo_app"].pk, 2**40]}, format="json")
    again = admin_client.post(RETRY, {"ids": [failed.pk]}, format="json")

    assert (response.json(), again.json()) == ({"requeued": 1}, {"requeued": 0})
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.SENT
    assert [mail.to for mail in mailoutbox] == [["asha@example.com"]]
