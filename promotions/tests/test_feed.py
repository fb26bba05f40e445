"""The customer's feed: live promotions whose audience includes the caller, newest first."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.tests.factories import CampaignFactory, CouponCodeFactory
from promotions.models import PromotionStatus
from promotions.tests.factories import PromotionFactory, customers, static_segment

pytestmark = pytest.mark.django_db

FEED = "/api/v1/promotions/feed/"


def _ago(hours: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=hours)


def _titles(client) -> list[str]:
    response = client.get(FEED)
    assert response.status_code == 200, response.content
    return [row["title"] for row in response.json()["results"]]


def test_the_feed_shows_live_promotions_for_everyone_and_for_the_callers_segments(customer, customer_client):
    mine = static_segment([customer])
    theirs = static_segment(customers(1))
    PromotionFactory(title="For all", status=PromotionStatus.SCHEDULED, send_at=timezone.now(), starts_at=_ago(3))
    PromotionFactory(title="For my segment", sent=True, audience="SEGMENTS", segments=[mine, theirs], starts_at=_ago(2))
    PromotionFactory(title="For theirs", sent=True, audience="SEGMENTS", segments=[theirs], starts_at=_ago(1))
    PromotionFactory(title="A draft", starts_at=_ago(1))
    PromotionFactory(title="Cancelled", status=PromotionStatus.CANCELLED, starts_at=_ago(1))
    PromotionFactory(title="Not yet", sent=True, starts_at=_ago(-1))
    PromotionFactory(title="Over", sent=True, starts_at=_ago(5), ends_at=_ago(4))
    PromotionFactory(title="Archived", sent=True, archived=True, archived_at=timezone.now(), starts_at=_ago(1))

    assert _titles(customer_client) == ["For my segment", "For all"]  # newest first


def test_the_feed_renders_the_content_for_the_caller_with_the_code_to_use(customer, customer_client):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="DIWALI20")
    PromotionFactory(
        title="Hi {{ first_name }}",
        description="Use {{ code }} for {{ promotion_title }}.",
        cta_text="Shop",
        cta_url="https://shop.example.com/",
        campaign=campaign,
        sent=True,
    )

    row = customer_client.get(FEED).json()["results"][0]

    assert row["title"] == "Hi Asha"
    assert row["description"] == "Use DIWALI20 for Hi {{ first_name }}."
    assert (row["code"], row["campaign_id"], row["cta_url"]) == ("DIWALI20", campaign.pk, "https://shop.example.com/")


def test_the_feed_needs_a_signed_in_caller(api_client):
    assert api_client.get(FEED).status_code == 401


def test_the_feed_takes_the_same_number_of_queries_for_any_page_size(
    customer, customer_client, django_assert_max_num_queries
):
    mine = static_segment([customer])
    for index in range(15):
        if index % 3:  # a shared code
            campaign = CampaignFactory(redemption_type="COUPON_CODE", code=f"CODE{index:03d}")
        else:  # the caller's own code of a unique-codes campaign
            campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE", code="")
            CouponCodeFactory(campaign=campaign, code=f"CODE{index:03d}-OWN", assigned_to=customer,
                              assigned_at=timezone.now())  # fmt: skip
        PromotionFactory(
            sent=True,
            campaign=campaign,
            audience="SEGMENTS" if index % 2 else "ALL",
            segments=[mine] if index % 2 else [],
        )

    with django_assert_max_num_queries(5):
        small = customer_client.get(FEED, {"limit": 2})
    with django_assert_max_num_queries(5):
        large = customer_client.get(FEED, {"limit": 100})

    assert len(small.json()["results"]) == 2 and len(large.json()["results"]) == 15
    assert all(row["code"].startswith("CODE") for row in large.json()["results"])
    assert sum(row["code"].endswith("-OWN") for row in large.json()["results"]) == 5


def test_a_unique_codes_campaign_shows_each_caller_their_own_code_and_nobody_elses(
    customer, customer_client, client_for
):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE", code="")
    other = customers(1)[0]
    CouponCodeFactory(campaign=campaign, code="ASHA-OWN", assigned_to=customer, assigned_at=timezone.now())
    CouponCodeFactory(campaign=campaign, code="OTHER-OWN", assigned_to=other, assigned_at=timezone.now())
    CouponCodeFactory(campaign=campaign, code="FREE-ONE")
    PromotionFactory(title="Yours", description="Your code: {{ code }}", campaign=campaign, sent=True)

    mine = customer_client.get(FEED).json()["results"][0]
    theirs = client_for(other).get(FEED).json()["results"][0]
    nobody = client_for(customers(1)[0]).get(FEED).json()["results"][0]

    assert (mine["code"], mine["description"]) == ("ASHA-OWN", "Your code: ASHA-OWN")
    assert (theirs["code"], theirs["description"]) == ("OTHER-OWN", "Your code: OTHER-OWN")
    assert (nobody["code"], nobody["description"]) == ("", "Your code: ")
