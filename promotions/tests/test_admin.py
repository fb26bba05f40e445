"""The console's promotions: saved through the services with errors on their fields, a preview
per channel, send now / schedule / cancel buttons and list actions, counts and the deliveries."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.tests.factories import CampaignFactory
from notifications.models import Delivery, Message
from promotions.models import Promotion, PromotionStatus
from promotions.tests.factories import PromotionFactory, customers, static_segment

pytestmark = pytest.mark.django_db

ADD = "/admin/promotions/promotion/add/"
LIST = "/admin/promotions/promotion/"


def _split(name: str, value: dt.datetime | None) -> dict[str, str]:
    if value is None:
        return {f"{name}_0": "", f"{name}_1": ""}
    local = timezone.localtime(value)
    return {f"{name}_0": local.strftime("%Y-%m-%d"), f"{name}_1": local.strftime("%H:%M:%S")}


def _form(**fields) -> dict:
    body = {
        "title": "Diwali, {{ first_name }}",
        "description": "Use {{ code }} at checkout.",
        "image_url": "https://cdn.example.com/diwali.png",
        "cta_text": "Shop",
        "cta_url": "https://shop.example.com/",
        "campaign": "",
        "audience": "ALL",
        "channels": ["IN_APP"],
        **_split("starts_at", timezone.now() - dt.timedelta(hours=1)),
        **_split("ends_at", None),
        **_split("send_at", None),
    }
    body.update(fields)
    return body


def _change(promotion: Promotion) -> str:
    return f"{LIST}{promotion.pk}/change/"


def test_a_promotion_added_in_the_console_is_saved_through_the_services(console):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20")
    segment = static_segment(customers(1))

    response = console.post(ADD, _form(campaign=campaign.pk, audience="SEGMENTS", segments=[segment.pk]))

    assert response.status_code == 302, response.content.decode()[:3000]
    promotion = Promotion.objects.get()
    assert (promotion.status, promotion.campaign_id, promotion.created_by.email) == (
        "DRAFT",
        campaign.pk,
        "root@example.com",
    )
    assert list(promotion.segments.values_list("pk", flat=True)) == [segment.pk]
    assert promotion.history.count() >= 1


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"description": "Hi {{ first_name"}, "Template syntax error"),
        ({"description": "Your {{ password }}"}, "Unknown placeholder password"),
        ({"cta_url": "javascript:alert(1)"}, "Enter a valid URL."),
        ({"audience": "SEGMENTS"}, "The SEGMENTS audience needs at least one segment."),
        ({"channels": []}, None),  # fine for a draft
    ],
)
def test_bad_input_is_shown_on_the_form_and_nothing_is_saved(console, fields, shown):
    response = console.post(ADD, _form(**fields))

    if shown is None:
        assert response.status_code == 302
        return
    assert response.status_code == 200
    page = response.content.decode()
    assert shown in page and "errorlist" in page
    assert not Promotion.objects.exists()


def test_a_product_segment_is_refused_on_the_segments_field(console):
    from segments.tests.factories import ProductSegmentFactory

    segment = ProductSegmentFactory()

    response = console.post(ADD, _form(audience="SEGMENTS", segments=[segment.pk]))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "holds products" in form.errors["segments"][0]
    assert not Promotion.objects.exists()


def test_save_and_send_now_sends_it(console, django_capture_on_commit_callbacks):
    people = customers(2)

    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(ADD, _form(_send_now="1"))

    promotion = Promotion.objects.get()
    assert response.status_code == 302 and response["Location"] == _change(promotion)
    assert promotion.status == PromotionStatus.SENDING
    assert sorted(Delivery.objects.values_list("recipient_id", flat=True)) == sorted(p.pk for p in people)


def test_sending_without_a_channel_is_refused_on_the_channels_field(console):
    response = console.post(ADD, _form(channels=[], _send_now="1"))

    assert response.status_code == 200
    assert "Choose at least one channel" in response.context["adminform"].form.errors["channels"][0]
    assert not Promotion.objects.exists() and not Message.objects.exists()


def test_save_and_schedule_uses_send_at_and_cancel_stops_it(console):
    promotion = PromotionFactory()
    when = timezone.now().replace(microsecond=0) + dt.timedelta(hours=3)

    missing = console.post(_change(promotion), _form(_schedule="1"))
    assert "Give the time to send at." in missing.context["adminform"].form.errors["send_at"][0]
    past = console.post(
        _change(promotion), _form(_schedule="1", **_split("send_at", timezone.now() - dt.timedelta(hours=1)))
    )
    assert "must be in the future" in past.context["adminform"].form.errors["send_at"][0]

    scheduled = console.post(_change(promotion), _form(_schedule="1", **_split("send_at", when)))
    assert scheduled.status_code == 302
    promotion.refresh_from_db()
    assert (promotion.status, promotion.send_at) == (PromotionStatus.SCHEDULED, when)

    cancelled = console.post(_change(promotion), _form(_cancel_promotion="1"))
    assert cancelled.status_code == 302
    promotion.refresh_from_db()
    assert promotion.status == PromotionStatus.CANCELLED


def test_the_change_page_previews_the_message_per_channel(console):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20")
    promotion = PromotionFactory(
        title="Hi {{ first_name }}",
        description="<b>Use</b> {{ code }}",
        cta_text="Shop",
        cta_url="https://shop.example.com/",
        campaign=campaign,
        channels=["EMAIL", "IN_APP"],
    )

    page = console.get(_change(promotion)).content.decode()

    assert "Hi Asha" in page  # email subject, push and in-app title
    assert "<b>Subject:</b> Hi Asha" in page
    assert "srcdoc=" in page and "&lt;b&gt;Use&lt;/b&gt; DIWALI20" in page  # mail html, sandboxed
    assert "SMS (not chosen)" in page and "Push (not chosen)" in page and "Email (not chosen)" not in page
    assert 'name="_send_now"' in page and 'name="_schedule"' in page and 'name="_cancel_promotion"' in page


def test_a_sent_promotion_is_read_only_with_its_delivery_counts(console, django_capture_on_commit_callbacks):
    customers(2)
    promotion = PromotionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        console.post(LIST, {"action": "send_now", "_selected_action": [promotion.pk]})
    promotion.refresh_from_db()
    assert promotion.status == PromotionStatus.SENDING

    page = console.get(_change(promotion)).content.decode()
    listing = console.get(LIST).content.decode()

    assert "2 sent" in page and 'name="_send_now"' not in page
    assert "2 delivered, 0 waiting, 0 failed, 0 skipped" in listing
    before = promotion.title
    console.post(_change(promotion), _form(title="Changed"))
    promotion.refresh_from_db()
    assert promotion.title == before


def test_list_actions_cancel_and_delete_or_archive(console, django_capture_on_commit_callbacks):
    customers(1)
    draft, scheduled, sent = PromotionFactory(), PromotionFactory(), PromotionFactory()
    Promotion.objects.filter(pk=scheduled.pk).update(status="SCHEDULED", send_at=timezone.now() + dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        console.post(LIST, {"action": "send_now", "_selected_action": [sent.pk]})

    console.post(LIST, {"action": "cancel_selected", "_selected_action": [scheduled.pk, sent.pk]})
    scheduled.refresh_from_db()
    assert scheduled.status == PromotionStatus.CANCELLED
    assert Promotion.objects.get(pk=sent.pk).status == PromotionStatus.SENDING

    console.post(LIST, {"action": "delete_or_archive", "_selected_action": [draft.pk, sent.pk]})
    assert not Promotion.objects.filter(pk=draft.pk).exists()
    sent.refresh_from_db()
    assert sent.archived and Delivery.objects.filter(message_id=sent.message_id).count() == 1
