"""Promotions over HTTP: CRUD, the seed routes, send/schedule/cancel, bad input, query counts."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.tests.factories import CampaignFactory
from lms.testing import assert_error
from notifications.models import Delivery, Message
from promotions.models import Promotion, PromotionStatus
from promotions.tests.factories import PromotionFactory, customers, static_segment
from segments.tests.factories import ProductSegmentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/promotions/"


def _body(**fields):
    return {
        "title": "Diwali sale, {{ first_name }}",
        "description": "Use {{ code }} at checkout.",
        "image_url": "https://cdn.example.com/diwali.png",
        "cta_text": "Shop now",
        "cta_url": "https://shop.example.com/sale",
        "channels": ["IN_APP", "EMAIL"],
        **fields,
    }


def _in(hours: float) -> str:
    return (timezone.now() + dt.timedelta(hours=hours)).isoformat()


def test_an_admin_creates_reads_changes_and_lists_promotions(admin_client, admin_user):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20")
    segment = static_segment(customers(1))

    created = admin_client.post(
        URL, _body(campaign_id=campaign.pk, audience="SEGMENTS", segment_ids=[segment.pk], ends_at=_in(48))
    )

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "DRAFT" and body["campaign_code"] == "DIWALI20"
    assert body["segment_ids"] == [segment.pk] and body["channels"] == ["IN_APP", "EMAIL"]
    assert body["created_by_id"] == admin_user.pk and body["message_id"] is None
    assert body["deliveries"] == dict.fromkeys(
        ["PENDING", "SENDING", "SENT", "FAILED", "SKIPPED", "READ", "CLICKED"], 0
    )
    detail = f"{URL}{body['id']}/"

    changed = admin_client.patch(detail, {"title": "Diwali week", "audience": "ALL"})
    assert changed.status_code == 200, changed.content
    assert (changed.json()["title"], changed.json()["segment_ids"]) == ("Diwali week", [])

    assert admin_client.get(detail).json()["title"] == "Diwali week"
    listed = admin_client.get(URL, {"page": 1, "limit": 10}).json()
    assert (listed["count"], listed["page"], listed["limit"], listed["pages"]) == (1, 1, 10, 1)
    assert [row["id"] for row in listed["results"]] == [body["id"]]


def test_the_seed_routes_answer_as_the_canonical_ones(admin_client, django_capture_on_commit_callbacks):
    created = admin_client.post("/promotion", _body())
    assert created.status_code == 201, created.content
    draft = created.json()["id"]

    listed = admin_client.get("/promotion/get?page=1&limit=10")
    assert listed.status_code == 200
    assert listed.json()["count"] == 1 and listed.json()["results"][0]["id"] == draft

    assert admin_client.delete(f"/promotion/delete/{draft}").status_code == 204
    assert not Promotion.objects.filter(pk=draft).exists()


def test_deleting_a_sent_promotion_archives_it_and_keeps_its_deliveries(
    admin_client, django_capture_on_commit_callbacks
):
    customers(2)
    promotion = PromotionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(f"{URL}{promotion.pk}/send").status_code == 200

    response = admin_client.delete(f"/promotion/delete/{promotion.pk}")

    assert response.status_code == 204
    promotion.refresh_from_db()
    assert promotion.archived and promotion.archived_at is not None
    assert Delivery.objects.filter(message__promotion=promotion).count() == 2
    assert admin_client.get(URL).json()["count"] == 0  # archived ones are left out of the list
    archived = admin_client.get(URL, {"archived": "true"}).json()["results"]
    assert [(row["id"], row["deliveries"]["SENT"]) for row in archived] == [(promotion.pk, 2)]
    assert_error(admin_client.patch(f"{URL}{promotion.pk}/", {"title": "x"}), 409, "promotion_archived")


def test_send_now_answers_the_promotion_with_its_delivery_counts(admin_client, django_capture_on_commit_callbacks):
    customers(3)
    promotion = PromotionFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{URL}{promotion.pk}/send", {})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "SENDING"
    detail = admin_client.get(f"{URL}{promotion.pk}/").json()
    assert detail["message_status"] == "DONE" and detail["deliveries"]["SENT"] == 3


def test_send_with_send_at_schedules_and_cancel_stops_it(admin_client):
    promotion = PromotionFactory()

    scheduled = admin_client.post(f"{URL}{promotion.pk}/send", {"send_at": _in(2)})
    assert scheduled.status_code == 200, scheduled.content
    assert scheduled.json()["status"] == "SCHEDULED" and scheduled.json()["send_at"]

    cancelled = admin_client.post(f"{URL}{promotion.pk}/cancel")
    assert cancelled.json()["status"] == "CANCELLED"
    assert_error(admin_client.post(f"{URL}{promotion.pk}/send"), 409, "promotion_cancelled")
    assert_error(admin_client.patch(f"{URL}{promotion.pk}/", {"title": "again"}), 409, "promotion_cancelled")
    assert not Message.objects.exists()


def test_a_sent_promotion_cannot_be_sent_again_cancelled_or_changed(admin_client, django_capture_on_commit_callbacks):
    customers(1)
    promotion = PromotionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"{URL}{promotion.pk}/send")

    assert_error(admin_client.post(f"{URL}{promotion.pk}/send"), 409, "promotion_already_sent")
    assert_error(admin_client.post(f"{URL}{promotion.pk}/send", {"send_at": _in(1)}), 409, "promotion_sending")
    assert_error(admin_client.post(f"{URL}{promotion.pk}/cancel"), 409, "promotion_already_sent")
    assert_error(admin_client.patch(f"{URL}{promotion.pk}/", {"title": "x"}), 409, "promotion_sending")
    assert Message.objects.count() == 1 and Delivery.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channels": ["IN_APP", "FAX"]}, "channels.1"),
        ({"channels": ["IN_APP", "IN_APP"]}, "channels"),
        ({"cta_url": "javascript:alert(1)"}, "cta_url"),
        ({"image_url": "data:image/png;base64,AAAA"}, "image_url"),
        ({"cta_url": "ftp://example.com/x"}, "cta_url"),
        ({"cta_url": ""}, "cta_url"),  # a call to action without its link
        ({"audience": "SEGMENTS"}, "segment_ids"),
        ({"audience": "SEGMENTS", "segment_ids": []}, "segment_ids"),
        ({"audience": "SEGMENTS", "segment_ids": [999999]}, "segment_ids"),
        ({"audience": "ALL", "segment_ids": [1]}, "segment_ids"),
        ({"audience": "EVERYONE"}, "audience"),
        ({"title": "Hi {{ first_name"}, "title"),
        ({"description": "{% for x in %}"}, "description"),
        ({"description": "Your {{ password }}"}, "description"),
        ({"description": "x" * 5001}, "description"),
        # Templates that would render gigabytes, or run for hours, for each recipient and feed read.
        ({"description": "{{ 'x' * 100000000 }}"}, "description"),
        ({"description": "{{ first_name|center(1000000000) }}"}, "description"),
        ({"title": "{% for i in range(99999) %}{% for j in range(99999) %}.{% endfor %}{% endfor %}"}, "title"),
        ({"cta_text": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"}, "cta_text"),
        ({"description": ""}, "description"),  # required when channels are set
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"starts_at": _in(2), "ends_at": _in(1)}, "ends_at"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"campaign_id": 999999}, "campaign_id"),
        ({"campaign_id": "DIWALI"}, "campaign_id"),
        ({"segment_ids": "1"}, "segment_ids"),
        ({"channels": "IN_APP"}, "channels"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_saved(admin_client, change, field):
    response = admin_client.post(URL, _body(**change))

    body = assert_error(response, 400, "validation_error")
    assert field in body["details"], body
    assert not Promotion.objects.exists()


def test_a_product_segment_is_refused(admin_client):
    segment = ProductSegmentFactory()

    body = assert_error(
        admin_client.post(URL, _body(audience="SEGMENTS", segment_ids=[segment.pk])), 400, "validation_error"
    )

    assert "holds products" in body["details"]["segment_ids"][0]
    assert not Promotion.objects.exists()


def test_a_placeholder_other_sources_provide_is_refused_for_a_promotion(admin_client):
    # points_balance: loyalty's placeholder, registered when loyalty is ready.
    body = assert_error(
        admin_client.post(URL, _body(description="You have {{ points_balance }} points")), 400, "validation_error"
    )

    assert "cannot fill points_balance" in body["details"]["description"][0]


def test_a_bad_change_leaves_the_promotion_as_it_was(admin_client):
    promotion = PromotionFactory(title="Before", audience="SEGMENTS", segments=[static_segment(customers(1))])

    body = assert_error(
        admin_client.patch(f"{URL}{promotion.pk}/", {"title": "After", "segment_ids": [999999]}),
        400,
        "validation_error",
    )

    assert "segment_ids" in body["details"]
    promotion.refresh_from_db()
    assert promotion.title == "Before" and promotion.segments.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"send_at": "2020-01-01T00:00:00Z"}, "send_at"),
        ({"send_at": "soon"}, "send_at"),
        ({"when": "now"}, "when"),
    ],
)
def test_a_bad_schedule_is_a_400_naming_the_field(admin_client, body, field):
    promotion = PromotionFactory()

    response = admin_client.post(f"{URL}{promotion.pk}/send", body)

    assert field in assert_error(response, 400, "validation_error")["details"]
    promotion.refresh_from_db()
    assert promotion.status == PromotionStatus.DRAFT and promotion.send_at is None


def test_a_schedule_after_the_window_ends_is_refused(admin_client):
    promotion = PromotionFactory(ends_at=timezone.now() + dt.timedelta(hours=1))

    response = admin_client.post(f"{URL}{promotion.pk}/send", {"send_at": _in(2)})

    assert "send_at" in assert_error(response, 400, "validation_error")["details"]


def test_a_promotion_without_channels_is_not_sent(admin_client):
    promotion = PromotionFactory(channels=[])

    response = admin_client.post(f"{URL}{promotion.pk}/send")

    assert "channels" in assert_error(response, 400, "validation_error")["details"]
    assert not Message.objects.exists()


def test_a_scheduled_promotion_cannot_be_changed_into_one_that_could_not_go(admin_client):
    promotion = PromotionFactory()
    assert admin_client.post(f"{URL}{promotion.pk}/send", {"send_at": _in(2)}).status_code == 200

    response = admin_client.patch(f"{URL}{promotion.pk}/", {"channels": []}, format="json")

    assert "channels" in assert_error(response, 400, "validation_error")["details"]
    promotion.refresh_from_db()
    assert (promotion.status, promotion.channels) == (PromotionStatus.SCHEDULED, ["IN_APP"])


def test_a_promotion_whose_campaign_was_archived_since_is_not_sent_without_its_code(admin_client):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="GONE10")
    promotion = PromotionFactory(campaign=campaign, description="Use {{ code }}")
    campaign.archived, campaign.archived_at, campaign.status = True, timezone.now(), "INACTIVE"
    campaign.save()

    response = admin_client.post(f"{URL}{promotion.pk}/send")

    assert assert_error(response, 409, "campaign_archived")["details"]["path"] == "campaign_id"
    assert not Message.objects.exists()


def test_an_ended_promotion_is_not_sent(admin_client):
    promotion = PromotionFactory(
        starts_at=timezone.now() - dt.timedelta(days=2), ends_at=timezone.now() - dt.timedelta(days=1)
    )

    assert_error(admin_client.post(f"{URL}{promotion.pk}/send"), 409, "promotion_ended")
    assert not Message.objects.exists()


def test_unknown_promotions_are_404(admin_client):
    for call in (
        admin_client.get(f"{URL}999999/"),
        admin_client.post(f"{URL}999999/send"),
        admin_client.delete("/promotion/delete/999999"),
    ):
        assert call.status_code == 404


def test_a_customer_cannot_manage_promotions(customer_client):
    promotion = PromotionFactory()

    assert customer_client.get(URL).status_code == 403
    assert customer_client.post(URL, _body()).status_code == 403
    assert customer_client.post(f"{URL}{promotion.pk}/send").status_code == 403
    assert customer_client.delete(f"/promotion/delete/{promotion.pk}").status_code == 403


def test_the_list_takes_the_same_number_of_queries_for_any_page_size(
    admin_client, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    customers(2)
    segment = static_segment(customers(1))
    for index in range(12):
        promotion = PromotionFactory(
            campaign=CampaignFactory(),
            audience="SEGMENTS" if index % 2 else "ALL",
            segments=[segment] if index % 2 else [],
        )
        if index % 3 == 0:
            with django_capture_on_commit_callbacks(execute=True):
                admin_client.post(f"{URL}{promotion.pk}/send")

    with django_assert_max_num_queries(8):
        small = admin_client.get(URL, {"limit": 2})
    with django_assert_max_num_queries(8):
        large = admin_client.get(URL, {"limit": 100})

    assert len(small.json()["results"]) == 2 and len(large.json()["results"]) == 12
    assert sum(row["deliveries"]["SENT"] for row in large.json()["results"]) > 0


def test_the_list_filters_by_status(admin_client):
    PromotionFactory(status=PromotionStatus.CANCELLED)
    draft = PromotionFactory()

    rows = admin_client.get(URL, {"status": "DRAFT"}).json()["results"]

    assert [row["id"] for row in rows] == [draft.pk]
    assert_error(admin_client.get(URL, {"status": "LIVE"}), 400, "validation_error")
