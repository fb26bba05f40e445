"""Redemptions racing on PostgreSQL: 200 threads, and exactly the allowed number succeed.

Every attempt is a distinct order (and, for the total limits, a distinct customer), sent at
once from real threads through the redemption service; afterwards the counters must equal
the redemption rows.
"""

from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from campaigns.models import CampaignCounter, CouponCode, Redemption
from campaigns.selectors import CartRequest
from campaigns.services.redemptions import redemption_create
from campaigns.tests.factories import CampaignFactory
from lms.errors import Conflict
from lms.testing import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)

ATTEMPTS = 200
LINES = [{"sku": "TEE", "quantity": 2, "unit_price": Decimal("500.00")}]  # 10% off: 100.00


def customers(count: int) -> list[User]:
    User.objects.bulk_create([User(email=f"racer{i}@example.com", password="!") for i in range(count)], batch_size=500)
    return list(User.objects.filter(email__startswith="racer").order_by("email"))


def attempt(customer: User, order_id: str, code: str):
    """One checkout: the Conflict's code when refused, "ok" when redeemed."""
    request = CartRequest(lines=LINES, at=timezone.now(), customer=customer, customer_known=True, codes=[code])
    body = {"order_id": order_id, "code": code, "customer": customer.pk}
    try:
        outcome = redemption_create(order_id=order_id, customer=customer, request=request, body=body)
    except Conflict as refused:
        return refused.code
    return "ok" if outcome.order_redemption.total_discount == Decimal("100.00") else "nothing applied"


def assert_counters_match_rows(campaign) -> None:
    counter = CampaignCounter.objects.get(pk=campaign.pk)
    rows = Redemption.objects.filter(campaign=campaign, status="REDEEMED")
    assert counter.uses == rows.count()
    assert counter.discount_spent == (rows.aggregate(s=Sum("amount"))["s"] or Decimal("0.00"))


@pytest.mark.parametrize("limit", [1, 10, 50])
def test_a_shared_code_with_max_uses_n_is_redeemed_exactly_n_times(limit):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="RACE", usage_limit=limit)
    racers = customers(ATTEMPTS)

    results = run_concurrently(ATTEMPTS, lambda i: attempt(racers[i], f"O-{i}", "race"))

    assert results.count("ok") == limit
    assert set(results) - {"ok"} == {"usage_limit"}
    assert_counters_match_rows(campaign)
    assert CampaignCounter.objects.get(pk=campaign.pk).uses == limit


@pytest.mark.parametrize("limit", [1, 10, 50])
def test_a_unique_code_with_max_uses_n_is_redeemed_exactly_n_times(limit):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE")
    code = CouponCode.objects.create(campaign=campaign, code="UNIQ2345", max_uses=limit)
    racers = customers(ATTEMPTS)

    results = run_concurrently(ATTEMPTS, lambda i: attempt(racers[i], f"O-{i}", "UNIQ2345"))

    assert results.count("ok") == limit
    assert set(results) - {"ok"} == {"code_used"}
    code.refresh_from_db()
    assert code.uses == limit == Redemption.objects.filter(coupon_code=code).count()
    assert_counters_match_rows(campaign)


def test_a_per_customer_limit_holds_under_200_checkouts_of_one_customer():
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="MINE", customer_limit=3)
    (customer,) = customers(1)

    results = run_concurrently(ATTEMPTS, lambda i: attempt(customer, f"O-{i}", "MINE"))

    assert results.count("ok") == 3
    assert set(results) - {"ok"} == {"customer_limit"}
    assert Redemption.objects.filter(campaign=campaign, customer=customer).count() == 3
    assert_counters_match_rows(campaign)


def test_a_discount_budget_is_never_overspent():
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="BUDGET", budget=Decimal("1000.00"))
    racers = customers(ATTEMPTS)

    results = run_concurrently(ATTEMPTS, lambda i: attempt(racers[i], f"O-{i}", "BUDGET"))

    assert results.count("ok") == 10  # 10 x 100.00
    assert set(results) - {"ok"} == {"budget_exhausted"}
    assert CampaignCounter.objects.get(pk=campaign.pk).discount_spent == Decimal("1000.00")
    assert_counters_match_rows(campaign)


def test_the_same_order_sent_at_once_is_redeemed_once():
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="SAME")
    (customer,) = customers(1)

    results = run_concurrently(20, lambda i: attempt(customer, "O-1", "SAME"))

    assert set(results) == {"ok"}  # the first answer, replayed
    assert CampaignCounter.objects.get(pk=campaign.pk).uses == 1
    assert_counters_match_rows(campaign)
