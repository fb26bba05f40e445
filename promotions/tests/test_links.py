"""What a promotion holds on to: its segments are not deleted, its campaign is archived rather
than erased (and its code no longer shown), and a recipient's own code reaches the message."""

import pytest

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_delete
from lms.errors import Conflict
from notifications.models import Delivery
from promotions import selectors
from promotions.models import PromotionStatus
from promotions.services import promotion_send
from promotions.tests.factories import PromotionFactory, customers, static_segment
from segments.services import segment_delete

pytestmark = pytest.mark.django_db


def test_a_segment_a_promotion_targets_is_not_deleted_until_the_promotion_is_cancelled():
    segment = static_segment(customers(1))
    promotion = PromotionFactory(audience="SEGMENTS", segments=[segment])

    with pytest.raises(Conflict) as caught:
        segment_delete(segment=segment)
    assert f"promotion {promotion.pk}" in caught.value.message

    promotion.status = PromotionStatus.CANCELLED
    promotion.save()
    segment_delete(segment=segment)


def test_a_linked_campaign_is_archived_not_erased_and_its_code_leaves_the_feed(customer, customer_client):
    from campaigns.tests.factories import CampaignFactory

    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20")
    PromotionFactory(campaign=campaign, sent=True)
    assert customer_client.get("/api/v1/promotions/feed/").json()["results"][0]["code"] == "DIWALI20"

    assert campaign_delete(campaign=campaign) is True

    assert Campaign.objects.get(pk=campaign.pk).archived
    assert customer_client.get("/api/v1/promotions/feed/").json()["results"][0]["code"] == ""


def test_a_recipients_own_code_from_the_code_lookup_reaches_their_delivery(
    monkeypatch, django_capture_on_commit_callbacks
):
    # The lookup the lead extends for unique-code campaigns: what it answers per customer is
    # what each recipient's {{ code }} renders.
    first, second = customers(2)
    monkeypatch.setattr(
        selectors, "recipient_codes", lambda campaign, ids: {pk: f"OWN{pk}" for pk in ids}, raising=True
    )
    monkeypatch.setattr("promotions.context.recipient_codes", selectors.recipient_codes)
    promotion = PromotionFactory(description="Your code: {{ code }}")

    with django_capture_on_commit_callbacks(execute=True):
        promotion_send(promotion_id=promotion.pk)

    bodies = dict(Delivery.objects.values_list("recipient_id", "body"))
    assert bodies == {first.pk: f"Your code: OWN{first.pk}", second.pk: f"Your code: OWN{second.pk}"}
