"""The point arithmetic alone (no database): earning, streaks, tiers, reversal, redemption value."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty import engine as e

D = Decimal
BASE = e.EarnRule(id=1, rule_type=e.POINTS_PER_RUPEE, points_per_rupee=D("10"))
ELECTRONICS, GROCERY, PHONES = 10, 20, 11


def line(sku: str, total: str, *categories: int) -> e.OrderLineFact:
    return e.OrderLineFact(sku=sku, line_total=D(total), category_ids=frozenset(categories))


def test_points_per_rupee_are_earned_on_what_was_paid_after_the_discount():
    earnings = e.order_earnings([BASE], [line("A", "300.00"), line("B", "100.00")], discount=D("100.00"))
    assert [(x.rule_id, x.points, x.basis) for x in earnings] == [(1, 3000, D("300.00"))]
    assert earnings[0].lines == {"A": "225.00", "B": "75.00"}


@pytest.mark.parametrize(("rounding", "points"), [("DOWN", 49), ("NEAREST", 50), ("UP", 50)])
def test_a_fractional_rate_rounds_by_the_rules_rounding(rounding, points):
    rule = e.EarnRule(id=1, rule_type=e.POINTS_PER_RUPEE, points_per_rupee=D("0.5"), rounding=rounding)
    assert e.order_earnings([rule], [line("A", "99.00")])[0].points == points


def test_category_rules_override_the_base_rate_for_their_lines_and_the_highest_rate_wins():
    electronics = e.EarnRule(
        id=2, rule_type=e.CATEGORY_POINTS, points_per_rupee=D("15"), category_ids=frozenset({ELECTRONICS}), position=1
    )
    grocery = e.EarnRule(
        id=3, rule_type=e.CATEGORY_POINTS, points_per_rupee=D("5"), category_ids=frozenset({GROCERY}), position=2
    )
    promo = e.EarnRule(
        id=4, rule_type=e.CATEGORY_POINTS, points_per_rupee=D("20"), category_ids=frozenset({PHONES}), position=3
    )
    lines = [
        line("TV", "100.00", ELECTRONICS),
        line("PHONE", "100.00", PHONES, ELECTRONICS),
        line("RICE", "100.00", GROCERY),
        line("PEN", "100.00"),
    ]
    earned = {x.rule_id: x.points for x in e.order_earnings([BASE, electronics, grocery, promo], lines)}
    assert earned == {1: 1000, 2: 1500, 3: 500, 4: 2000}


def test_the_tier_multiplier_applies_to_spend_points_not_to_the_first_purchase_bonus():
    bonus = e.EarnRule(id=5, rule_type=e.FIRST_PURCHASE_BONUS, bonus_points=500)
    earned = {
        x.rule_id: x.points
        for x in e.order_earnings([BASE, bonus], [line("A", "10.00")], first_purchase=True, tier_multiplier=D("1.5"))
    }
    assert earned == {1: 150, 5: 500}


def test_a_percentage_first_purchase_bonus_is_points_worth_that_share_and_only_on_a_first_order():
    bonus = e.EarnRule(id=5, rule_type=e.FIRST_PURCHASE_BONUS, bonus_percent=D("10"))
    assert e.order_earnings([bonus], [line("A", "455.00")], first_purchase=True)[0].points == 45
    assert e.order_earnings([bonus], [line("A", "455.00")], first_purchase=False) == []


def test_a_rule_with_a_minimum_order_value_gives_nothing_below_it():
    rule = e.EarnRule(id=1, rule_type=e.POINTS_PER_RUPEE, points_per_rupee=D("1"), min_order_value=D("500"))
    assert e.order_earnings([rule], [line("A", "499.99")]) == []
    assert e.order_earnings([rule], [line("A", "500.00")])[0].points == 500


STREAK = e.EarnRule(
    id=9, rule_type=e.DAILY_LOGIN_STREAK, base_points=10,
    streak_steps=(e.StreakStep(3, D("2")), e.StreakStep(7, D("3")), e.StreakStep(30, D("5"))), max_multiplier=D("4"),
)  # fmt: skip
DAY = dt.date(2026, 3, 1)


def test_consecutive_login_days_grow_the_streak_and_its_multiplier_up_to_the_cap():
    last, streak, points = None, 0, []
    for offset in range(31):
        award = e.streak_award(STREAK, day=DAY + dt.timedelta(days=offset), last_day=last, streak_days=streak)
        last, streak = award.last_day, award.streak_days
        points.append(award.points)
    assert points[:2] == [10, 10] and points[2:6] == [20] * 4 and points[6] == 30 and points[29] == 40
    assert streak == 31


def test_a_second_login_the_same_day_earns_nothing_and_a_missed_day_restarts_the_streak():
    assert e.streak_award(STREAK, day=DAY, last_day=DAY, streak_days=5) is None
    award = e.streak_award(STREAK, day=DAY + dt.timedelta(days=2), last_day=DAY, streak_days=5)
    assert (award.streak_days, award.points) == (1, 10)


def test_a_late_login_event_for_an_earlier_day_earns_the_base_and_leaves_the_streak():
    award = e.streak_award(STREAK, day=DAY - dt.timedelta(days=3), last_day=DAY, streak_days=5)
    assert (award.points, award.streak_days, award.last_day) == (10, 5, DAY)


TIERS = (
    e.TierSpec(1, "Bronze", D("0")),
    e.TierSpec(2, "Silver", D("1000"), D("1.25")),
    e.TierSpec(3, "Gold", D("5000"), D("1.5")),
)


@pytest.mark.parametrize(
    ("measure", "tier", "upcoming"),
    [(0, "Bronze", "Silver"), (999, "Bronze", "Silver"), (1000, "Silver", "Gold"), (9999, "Gold", None)],
)
def test_the_tier_is_the_highest_threshold_reached(measure, tier, upcoming):
    assert e.tier_for(TIERS, D(measure)).name == tier
    assert (e.tier_next(TIERS, D(measure)) or e.TierSpec(0, None, D(0))).name == upcoming


def test_partial_refunds_reverse_in_proportion_and_never_more_than_a_full_refund():
    first = e.reversal_due(points=999, basis=D("300"), refunded_basis=D("100"), already=0, full=False)
    second = e.reversal_due(points=999, basis=D("300"), refunded_basis=D("200"), already=first, full=False)
    rest = e.reversal_due(points=999, basis=D("300"), refunded_basis=D("200"), already=first + second, full=True)
    assert (first, second, rest) == (333, 333, 333)


@given(
    points=st.integers(1, 10**9),
    basis=st.decimals(D("0.01"), D("1000000"), places=2),
    steps=st.lists(st.decimals(D("0"), D("1"), places=3), min_size=1, max_size=6),
)
def test_reversals_over_any_sequence_of_partial_refunds_add_up_to_at_most_the_earning(points, basis, steps):
    already, refunded = 0, D("0")
    for share in steps:
        refunded = min(basis, refunded + basis * share)
        already += e.reversal_due(points=points, basis=basis, refunded_basis=refunded, already=already, full=False)
        assert 0 <= already <= points
    already += e.reversal_due(points=points, basis=basis, refunded_basis=refunded, already=already, full=True)
    assert already == points


@given(payable=st.decimals(D("0"), D("100000"), places=2), value=st.decimals(D("0.01"), D("10"), places=4))
def test_the_points_a_cart_can_take_are_never_worth_more_than_it_costs(payable, value):
    points = e.points_affordable(payable, value)
    assert e.points_value(points, value) <= payable
    assert points * value <= payable < (points + 1) * value
