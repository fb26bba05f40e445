"""The engine's offers: what a customer may use now, before there is a cart (pure Python).

Held to the "Offers" paragraph of ``campaigns.engine.evaluate``: the same candidates, codes and
eligibility checks as ``evaluate``, minus the cart.
"""

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.engine import (
    AUDIENCE_NEW,
    AUDIENCE_SEGMENTS,
    BRAND,
    BULK_PURCHASE,
    BUY_X_GET_Y,
    COUPON_CODE,
    CUSTOM_CART_TOTAL,
    FIXED_AMOUNT,
    LOYALTY_PROGRAM,
    CodeFact,
    Context,
    Counter,
    Location,
    Usage,
    offers,
)
from campaigns.engine.rules import offer_summary
from campaigns.tests.test_engine import AT, campaign, rule, shipping_rule

COUPON = {"redemption_type": COUPON_CODE}


def offered(*campaigns, **context) -> list[tuple[int, str]]:
    context.setdefault("at", AT)
    context.setdefault("customer_id", 7)
    return [(offer.campaign.id, offer.code) for offer in offers(context=Context(**context), campaigns=campaigns)]


def test_automatic_campaigns_are_offered_without_a_code_and_coupons_only_through_one():
    automatic, coupon, coded = campaign(1), campaign(2, **COUPON), campaign(3, **COUPON, code="SAVE")

    assert offered(automatic, coupon, coded, codes=(CodeFact("SAVE", 3),)) == [(1, ""), (3, "SAVE")]


def test_offers_come_in_the_order_stacking_considers_them():
    low, high, same = campaign(1, priority=0), campaign(5, priority=9), campaign(3, priority=0)

    assert [cid for cid, _ in offered(low, high, same)] == [5, 1, 3]


def test_a_customers_own_unused_code_is_an_offer_and_a_used_or_anothers_is_not():
    mine, used, theirs = campaign(1, **COUPON), campaign(2, **COUPON), campaign(3, **COUPON)
    codes = (
        CodeFact("MINE", 1, single_use=True, assigned=True, owner_id=7),
        CodeFact("USED", 2, single_use=True, uses=1, assigned=True, owner_id=7),
        CodeFact("THEIRS", 3, single_use=True, assigned=True, owner_id=8),
    )

    assert offered(mine, used, theirs, codes=codes) == [(1, "MINE")]


def test_the_eligibility_checks_of_evaluate_decide():
    at = AT
    cases = {
        "inactive": campaign(1, active=False),
        "not_started": campaign(2, starts_at=at + dt.timedelta(hours=1)),
        "expired": campaign(3, ends_at=at),
        "outside_hours": campaign(4, daily_start=dt.time(20), daily_end=dt.time(21)),
        "outside_days": campaign(5, weekdays=frozenset({6})),
        "geo": campaign(6, cities=frozenset({"pune"})),
        "audience": campaign(7, audience=AUDIENCE_NEW),
        "segment": campaign(8, audience=AUDIENCE_SEGMENTS, segment_ids=frozenset({40})),
        "usage_limit": campaign(9, usage_limit=3),
        "customer_limit": campaign(10, customer_limit=1),
        "budget_exhausted": campaign(11, budget=Decimal("50")),
        "loyalty": campaign(12, kind=LOYALTY_PROGRAM),
    }
    context = {
        "location": Location(city="mumbai"),
        "is_new_customer": False,
        "segment_ids": frozenset({41}),
        "counters": {9: Counter(uses=3), 11: Counter(uses=1, discount_spent=Decimal("50.00"))},
        "usage": {10: Usage(lifetime=1)},
    }

    assert offered(*cases.values(), **context) == []
    welcome = {
        "location": Location(city="pune"),
        "is_new_customer": True,
        "segment_ids": frozenset({40}),
        "counters": {9: Counter(uses=2), 11: Counter(uses=1, discount_spent=Decimal("49.99"))},
        "usage": {},
    }
    still_out = {1, 2, 3, 4, 5, 12}
    assert [cid for cid, _ in offered(*cases.values(), **welcome)] == [
        c.id for c in cases.values() if c.id not in still_out
    ]


def test_the_currency_and_the_minimum_cart_are_shown_not_judged():
    assert offered(campaign(1, currency="EUR", min_cart_value=Decimal("5000"))) == [(1, "")]


def test_a_guest_gets_only_what_needs_no_customer():
    everyone, limited, new = campaign(1), campaign(2, customer_limit=1), campaign(3, audience=AUDIENCE_NEW)

    assert offered(everyone, limited, new, customer_id=None) == [(1, "")]


@pytest.mark.parametrize(
    ("rules", "extra", "summary"),
    [
        ((rule(),), {}, "10% off"),
        ((rule(discount_type=FIXED_AMOUNT, value="150"),), {"min_cart_value": Decimal("999")}, "₹150.00 off on orders of ₹999.00 or more"),
        ((rule(BRAND, value="15"),), {"max_discount": Decimal("300")}, "15% off on selected brands (at most ₹300.00)"),
        ((rule(min_quantity=2),), {}, "10% off when you buy 2 or more"),
        ((rule(BULK_PURCHASE, value=None, tiers=[("3", "5"), ("6", "10")]),), {}, "From 5% off when you buy 3 or more"),
        ((rule(CUSTOM_CART_TOTAL, value=None, tiers=[("1000", "5")]),), {}, "5% off on orders of ₹1000.00 or more"),
        ((rule(BUY_X_GET_Y, value=None, buy_quantity=2, get_quantity=1),), {}, "Buy 2 get 1 free"),
        ((shipping_rule(),), {}, "Free shipping"),
        ((rule(), shipping_rule()), {}, "10% off + free shipping"),
        ((), {}, "A discount"),
    ],
)  # fmt: skip
def test_an_offer_is_summed_up_in_a_line(rules, extra, summary):
    assert offer_summary(rules, currency="INR", **extra) == summary
