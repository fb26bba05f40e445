"""Cart refusals counted per campaign, day and reason (campaigns/refusals.py)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.engine import types as t
from campaigns.models import RefusalCount
from campaigns.refusals import live_counts, refusals_count, refusals_rollup, site_day
from campaigns.tests.factories import CampaignFactory, cart
from lms.tests.test_cache import redis_down  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db
EVALUATE = "/api/v1/cart/evaluate"


def _refused(campaign_id, reason="min_cart"):
    return t.Rejected(reason=reason, message="", campaign_id=campaign_id)


def test_each_evaluation_counts_its_refusals_per_campaign_and_reason(integration_client):
    big = CampaignFactory(min_cart_value=Decimal("5000.00"))
    coded = CampaignFactory(redemption_type="COUPON_CODE", code="SAVE")

    for _ in range(3):
        assert integration_client.post(EVALUATE, cart(), format="json").status_code == 200
    integration_client.post(EVALUATE, cart(codes=["NOPE"]), format="json")  # no campaign: not counted

    counts = {(cid, reason): n for cid, reason, n in live_counts(site_day(timezone.now()))}
    assert counts == {(big.pk, "min_cart"): 4}
    assert coded.pk not in {cid for cid, _ in counts}


def test_the_day_is_the_sites_day_not_utcs(settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    late_utc = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)  # 01:30 on 2 March in Kolkata
    campaign = CampaignFactory()

    refusals_count([_refused(campaign.pk)], at=late_utc)

    assert live_counts(dt.date(2026, 3, 2)) == [(campaign.pk, "min_cart", 1)]
    assert live_counts(dt.date(2026, 3, 1)) == []


def test_the_rollup_sets_rows_so_a_rerun_never_counts_twice():
    campaign = CampaignFactory()
    now = timezone.now()
    yesterday = now - dt.timedelta(days=1)
    refusals_count([_refused(campaign.pk), _refused(campaign.pk, "geo")], at=now)
    refusals_count([_refused(campaign.pk)], at=now)
    refusals_count([_refused(campaign.pk)], at=yesterday)

    refusals_rollup(now=now)
    refusals_rollup(now=now)  # a rerun (or two beats racing) writes the same figures

    rows = {(r.day, r.reason): r.count for r in RefusalCount.objects.filter(campaign=campaign)}
    assert rows == {
        (site_day(now), "min_cart"): 2,
        (site_day(now), "geo"): 1,
        (site_day(yesterday), "min_cart"): 1,
    }
    refusals_count([_refused(campaign.pk)], at=now)  # counting goes on after a rollup
    refusals_rollup(now=now)
    assert RefusalCount.objects.get(campaign=campaign, day=site_day(now), reason="min_cart").count == 3


def test_the_rollup_skips_campaigns_deleted_since_they_were_counted():
    kept, gone = CampaignFactory(), CampaignFactory()
    now = timezone.now()
    refusals_count([_refused(kept.pk), _refused(gone.pk)], at=now)
    gone.delete()

    refusals_rollup(now=now)

    assert list(RefusalCount.objects.values_list("campaign_id", flat=True)) == [kept.pk]


@pytest.mark.usefixtures("redis_down")
def test_with_redis_down_evaluate_answers_and_the_rollup_writes_nothing(integration_client):
    CampaignFactory(min_cart_value=Decimal("5000.00"))

    response = integration_client.post(EVALUATE, cart(), format="json")

    assert response.status_code == 200
    assert response.json()["rejected"][0]["reason"] == "min_cart"
    assert live_counts(site_day(timezone.now())) is None
    assert refusals_rollup() == 0
    assert not RefusalCount.objects.exists()
