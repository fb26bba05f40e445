"""The exclusive-campaign policy (``evaluate(exclusive_policy=...)``, the setting
CAMPAIGNS_EXCLUSIVE_POLICY): "priority" as before, "best" gives the customer the larger of
the best exclusive campaign and the stack of the others; ``Result.exclusive`` says which
decided (pure engine, no database)."""

from decimal import Decimal

import pytest

from campaigns.engine import EXCLUSIVE_BEST, EXCLUSIVE_PRIORITY, FIXED_AMOUNT, PRODUCT, Context, ExclusiveDecision
from campaigns.engine import evaluate as engine_evaluate
from campaigns.tests.test_engine import AT, applied_ids, campaign, cart, code, line, rule, shipping_rule

D = Decimal


def run(the_cart, *campaigns, policy):
    return engine_evaluate(cart=the_cart, context=Context(at=AT), campaigns=campaigns, exclusive_policy=policy)


def big_cart():
    """The 122,962 cart of the issue: one exclusive ₹380 off against 20 campaigns of 2% each."""
    return cart(line("TV", 1, "119962.00"), line("CABLE", 3, "1000.00"))


def exclusive_and_stack():
    exclusive = campaign(1, rule(discount_type=FIXED_AMOUNT, value="380"), exclusive=True, priority=50, name="Flat 380")
    stack = [campaign(100 + n, rule(value="2"), priority=1) for n in range(20)]
    return exclusive, stack


def test_under_priority_the_exclusive_campaign_wins_and_the_answer_says_so():
    exclusive, stack = exclusive_and_stack()

    result = run(big_cart(), exclusive, *stack, policy=EXCLUSIVE_PRIORITY)

    assert applied_ids(result) == [1]
    assert result.total_discount == D("380.00")
    assert result.exclusive == ExclusiveDecision(
        EXCLUSIVE_PRIORITY,
        1,
        "exclusive",
        "Flat 380 is exclusive and applies alone (exclusive campaigns win by priority).",
    )
    assert {r.reason for r in result.rejected} == {"not_stackable"}
    assert result.rejected[0].message == "Flat 380 applies alone."


def test_under_best_many_stacking_campaigns_beat_one_exclusive():
    exclusive, stack = exclusive_and_stack()

    result = run(big_cart(), exclusive, *stack, policy=EXCLUSIVE_BEST)

    assert applied_ids(result) == [c.id for c in stack]
    assert result.total_discount > D("380.00")
    together = f"₹{result.total_discount:f}"
    assert result.exclusive == ExclusiveDecision(
        EXCLUSIVE_BEST, 1, "stack", f"The other campaigns together give {together}, more than ₹380.00 from Flat 380."
    )
    (refused,) = [r for r in result.rejected if r.campaign_id == 1]
    assert (refused.reason, refused.message) == (
        "not_stackable",
        f"The other campaigns together give more ({together} against ₹380.00).",
    )
    # The stack is exactly what it would be without the exclusive campaign.
    alone = run(big_cart(), *stack, policy=EXCLUSIVE_BEST)
    assert alone.discounts == result.discounts and alone.exclusive is None


def test_under_best_an_exclusive_campaign_giving_more_applies_alone():
    exclusive = campaign(1, rule(value="50"), exclusive=True, name="Half off")
    others = [campaign(2, rule(value="10")), campaign(3, rule(value="10"))]

    result = run(cart(line("A", 1, "1000.00")), exclusive, *others, policy=EXCLUSIVE_BEST)

    assert applied_ids(result) == [1]
    assert result.exclusive.outcome == "exclusive" and result.exclusive.campaign_id == 1
    assert result.exclusive.message == "Half off gives ₹500.00, at least the ₹190.00 the other campaigns give together."
    assert [(r.campaign_id, r.reason, r.message) for r in result.rejected] == [
        (2, "not_stackable", "Half off applies alone: it gives more (₹500.00 against ₹190.00)."),
        (3, "not_stackable", "Half off applies alone: it gives more (₹500.00 against ₹190.00)."),
    ]


def test_under_best_a_tie_goes_to_the_exclusive_campaign():
    exclusive = campaign(1, rule(discount_type=FIXED_AMOUNT, value="100"), exclusive=True)
    other = campaign(2, rule(value="10"))

    result = run(cart(line("A", 1, "1000.00")), exclusive, other, policy=EXCLUSIVE_BEST)

    assert applied_ids(result) == [1]
    assert result.exclusive.outcome == "exclusive"


def test_under_best_the_exclusive_campaign_giving_most_is_weighed_ties_by_priority():
    first = campaign(1, rule(value="20"), exclusive=True, priority=5)
    bigger = campaign(2, rule(value="30"), exclusive=True, priority=1)
    same_as_bigger = campaign(3, rule(value="30"), exclusive=True, priority=0)

    result = run(cart(line("A", 1, "1000.00")), first, bigger, same_as_bigger, policy=EXCLUSIVE_BEST)

    assert applied_ids(result) == [2]
    assert {r.campaign_id: r.reason for r in result.rejected} == {1: "not_stackable", 3: "not_stackable"}
    # Under priority the first one by priority wins, as before.
    assert applied_ids(run(cart(line("A", 1, "1000.00")), first, bigger, policy=EXCLUSIVE_PRIORITY)) == [1]


def test_shipping_counts_in_the_comparison():
    exclusive = campaign(1, shipping_rule(), kind="FREE_SHIPPING", exclusive=True, name="Free delivery")
    other = campaign(2, rule(discount_type=FIXED_AMOUNT, value="40"))

    result = run(cart(line("A", 1, "1000.00"), shipping="50.00"), exclusive, other, policy=EXCLUSIVE_BEST)

    assert applied_ids(result) == [1]
    assert result.total_discount == D("50.00")


@pytest.mark.parametrize("policy", [EXCLUSIVE_PRIORITY, EXCLUSIVE_BEST])
def test_an_exclusive_campaign_giving_nothing_lets_the_others_stack_and_the_answer_says_so(policy):
    exclusive = campaign(1, rule(PRODUCT, product_ids={99}), exclusive=True, redemption_type="COUPON_CODE")
    result = engine_evaluate(
        cart=cart(line("A", 1, "100.00")),
        context=Context(at=AT, codes=(code(),)),
        campaigns=(exclusive, campaign(2), campaign(3)),
        exclusive_policy=policy,
    )

    assert applied_ids(result) == [2, 3]
    assert [(r.campaign_id, r.reason) for r in result.rejected] == [(1, "no_matching_items")]
    assert result.exclusive == ExclusiveDecision(
        policy, None, "stack", "No exclusive campaign gives anything on this cart; the other campaigns combine."
    )


@pytest.mark.parametrize("policy", [EXCLUSIVE_PRIORITY, EXCLUSIVE_BEST])
def test_without_an_eligible_exclusive_campaign_there_is_no_decision(policy):
    ended = campaign(1, exclusive=True, active=False)

    result = run(cart(line()), ended, campaign(2), policy=policy)

    assert applied_ids(result) == [2]
    assert result.exclusive is None


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="Unknown exclusive policy 'cheapest'"):
        run(cart(line()), campaign(1), policy="cheapest")
