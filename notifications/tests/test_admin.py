"""The console's notifications: messages with counts and cancel, read-only deliveries with
filters and search, preferences and push devices read-only."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from lms.testing import list_cells
from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus, Preference, PushDevice
from notifications.tests.builders import delivery, message

pytestmark = pytest.mark.django_db


def test_the_message_list_shows_each_messages_counts(console, customer):
    msg = message(key="promotion:5", source_id="5", title="Diwali sale", channels=["IN_APP", "EMAIL"])
    delivery(msg, customer)
    delivery(msg, UserFactory(), status=DeliveryStatus.READ, read_at=timezone.now())
    delivery(msg, customer, channel=Channel.EMAIL, status=DeliveryStatus.FAILED)
    message(key="campaign:1:announce", source_type="campaign", source_id="1", title="Shoes 10 is on")

    page = console.get("/admin/notifications/message/").content.decode()

    assert list_cells(page, "title") == ["Shoes 10 is on", "Diwali sale"]
    assert list_cells(page, "sent_by") == ["Campaign 1: announce", "Promotion 5"]
    assert "campaign:1:announce" not in page  # the key is for searching, not for reading
    assert list_cells(page, "sent") == ["0", "2"]
    assert list_cells(page, "failed") == ["0", "1"]
    assert list_cells(page, "read") == ["0", "1"]


def test_the_message_list_counts_in_a_constant_number_of_queries(console, customer):
    def queries(count: int) -> int:
        for _ in range(count):
            delivery(message(), customer)
        with CaptureQueriesContext(connection) as captured:
            assert console.get("/admin/notifications/message/").status_code == 200
        return len(captured)

    assert queries(2) == queries(12)


@pytest.mark.parametrize("model", ["delivery", "preference", "pushdevice"])
def test_the_other_console_lists_take_a_constant_number_of_queries(console, model):
    def queries(count: int) -> int:
        for _ in range(count):
            person = UserFactory()
            delivery(message(), person, channel=Channel.EMAIL, status=DeliveryStatus.FAILED)
            Preference.objects.create(user=person, timezone="Asia/Tokyo")
            PushDevice.objects.create(user=person, token=f"tok-{person.pk}", platform="ios")
        with CaptureQueriesContext(connection) as captured:
            assert console.get(f"/admin/notifications/{model}/").status_code == 200
        return len(captured)

    assert queries(2) == queries(12)


def test_a_message_is_viewed_read_only_with_its_counts(console, customer):
    msg = message(title="Diwali {{ first_name }}")
    delivery(msg, customer)

    response = console.get(f"/admin/notifications/message/{msg.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Diwali {{ first_name }}" in page and 'name="_save"' not in page
    assert console.post(f"/admin/notifications/message/{msg.pk}/change/", {"title": "x"}).status_code == 403
    assert console.get("/admin/notifications/message/add/").status_code == 403


def test_the_cancel_action_cancels_through_the_service(console, customer):
    msg = message(channels=["EMAIL"])
    pending = delivery(msg, customer, channel=Channel.EMAIL, status=DeliveryStatus.PENDING)

    response = console.post("/admin/notifications/message/", {"action": "cancel", "_selected_action": [msg.pk]})

    assert response.status_code == 302
    msg.refresh_from_db()
    pending.refresh_from_db()
    assert msg.status == MessageStatus.CANCELLED
    assert (pending.status, pending.reason) == (DeliveryStatus.SKIPPED, "cancelled")


def test_deliveries_are_read_only_and_filter_by_status_channel_and_source(console, customer):
    mail = delivery(message(source_type="campaign"), customer, channel=Channel.EMAIL, status=DeliveryStatus.FAILED)
    app = delivery(message(source_type="promotion"), UserFactory(email="ravi@example.com"))

    failed = console.get("/admin/notifications/delivery/", {"status": "FAILED"}).content.decode()
    in_app = console.get("/admin/notifications/delivery/", {"channel": "IN_APP"}).content.decode()
    campaigns = console.get("/admin/notifications/delivery/", {"message__source_type": "campaign"}).content.decode()
    ravi = console.get("/admin/notifications/delivery/", {"q": "RAVI@example.com"}).content.decode()
    by_day = console.get("/admin/notifications/delivery/", {"created_at__year": timezone.now().year})

    def listed(page: str) -> set[int]:
        return {int(pk) for pk in re.findall(r"/admin/notifications/delivery/(\d+)/change/", page)}

    assert listed(failed) == {mail.pk}
    assert listed(in_app) == {app.pk}
    assert listed(campaigns) == {mail.pk}
    assert listed(ravi) == {app.pk}
    assert by_day.status_code == 200
    detail = console.get(f"/admin/notifications/delivery/{mail.pk}/change/").content.decode()
    assert 'name="_save"' not in detail
    assert console.get("/admin/notifications/delivery/add/").status_code == 403
    assert console.post(f"/admin/notifications/delivery/{mail.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Delivery.objects.count() == 2


def test_preferences_and_push_devices_are_read_only(console, customer):
    Preference.objects.create(user=customer, timezone="Asia/Kolkata")
    device = PushDevice.objects.create(user=customer, token="tok-1", platform="ios")

    for path in ("/admin/notifications/preference/", "/admin/notifications/pushdevice/"):
        page = console.get(path).content.decode()
        assert "asha@example.com" in page, path
    assert console.get("/admin/notifications/pushdevice/", {"q": "tok-1"}).status_code == 200
    detail = console.get(f"/admin/notifications/pushdevice/{device.pk}/change/").content.decode()
    assert "tok-1" in detail and 'name="_save"' not in detail
    assert console.get("/admin/notifications/preference/add/").status_code == 403


def test_a_marketer_with_view_permission_sees_but_cannot_cancel(client, customer):
    marketer = UserFactory(is_staff=True)
    marketer.user_permissions.add(Permission.objects.get(codename="view_message"))
    client.force_login(marketer)
    msg = message()

    page = client.get("/admin/notifications/message/").content.decode()
    client.post("/admin/notifications/message/", {"action": "cancel", "_selected_action": [msg.pk]})

    assert list_cells(page, "title") == [msg.title] and 'value="cancel"' not in page
    assert Message.objects.get(pk=msg.pk).status == MessageStatus.PENDING


def test_retry_failed_requeues_the_selected_failed_deliveries(
    console, customer, mailoutbox, django_capture_on_commit_callbacks
):
    customer.marketing_email = True
    customer.save(update_fields=["marketing_email"])
    msg = message(channels=["EMAIL"])
    failed = delivery(msg, customer, channel=Channel.EMAIL, status=DeliveryStatus.FAILED, last_error="timeout")
    sent = delivery(msg, UserFactory(), channel=Channel.EMAIL)

    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            "/admin/notifications/delivery/", {"action": "retry_failed", "_selected_action": [failed.pk, sent.pk]}
        )

    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.SENT
    assert [mail.to for mail in mailoutbox] == [["asha@example.com"]]
    assert "Requeued 1 failed delivery." in console.get(response["Location"]).content.decode()
