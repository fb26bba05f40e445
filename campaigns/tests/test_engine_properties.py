"""What holds for every cart and every set of campaigns (hypothesis), not just the examples:
money never goes negative or past what was there, caps and stacking hold, and the answer
depends on nothing but the input."""

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.engine import (
    AUDIENCE_EXISTING,
    AUDIENCE_NEW,
    AUDIENCE_SEGMENTS,
    AUTOMATIC,
    BRAND,
    BULK_PURCHASE,
    BUY_X_GET_Y,
    CATEGORY,
    COUPON_CODE,
    CUSTOM_CART_TOTAL,
    DISCOUNT_COUPON,
    FIXED_AMOUNT,
    FREE_SHIPPING,
    LOYALTY_PROGRAM,
    PERCENTAGE,
    PERIOD_DAY,
    PERIOD_LIFETIME,
    PERIOD_MONTH,
    PERIOD_WEEK,
    PRODUCT,
    REASONS,
    SHIPPING,
    WHOLE_CART,
    Campaign,
    Cart,
    CodeFact,
    Context,
    Counter,
    Line,
    Result,
    Rule,
    Tier,
    Usage,
    allocate,
    evaluate,
)

AT = dt.datetime(2025, 6, 16, 6, 30, tzinfo=dt.UTC)
RULE_TYPES = [WHOLE_CART, BULK_PURCHASE, CATEGORY, PRODUCT, BRAND, CUSTOM_CART_TOTAL, BUY_X_GET_Y]
PROPERTY = settings(max_examples=300, deadline=None)


def money(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Amounts in whole cents between ``low`` and ``high`` units."""
    return st.integers(low * 100, high * 100).map(lambda whole: Decimal(whole).scaleb(-2))


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


def rarely(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A value one time in four, else None: restrictions that would otherwise stop most campaigns."""
    return st.one_of(st.none(), st.none(), st.none(), strategy)


def mostly(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A value three times in four, else None."""
    return st.one_of(strategy, strategy, strategy, st.none())


ids = st.frozensets(st.integers(1, 4), max_size=3)

lines = st.builds(
    Line,
    sku=st.sampled_from("ABCDEFG"),  # repeats on purpose: one sku on two lines
    quantity=st.integers(0, 50),
    unit_price=money(0, 100_000),
    product_id=maybe(st.integers(1, 4)),
    category_ids=ids,
    brand_id=maybe(st.integers(1, 4)),
)

carts = st.builds(
    Cart, lines=st.lists(lines, max_size=20).map(tuple), shipping=money(0, 1000), currency=st.sampled_from(["INR"])
)


# What a rule targets: presets (one draw, not three sets), from nothing to overlapping sets.
TARGETS = [
    (frozenset(), frozenset(), frozenset()),
    (frozenset({1}), frozenset(), frozenset()),
    (frozenset({2, 3}), frozenset(), frozenset()),
    (frozenset(), frozenset({1, 2}), frozenset()),
    (frozenset(), frozenset(), frozenset({1, 4})),
    (frozenset({1}), frozenset({2}), frozenset({3})),
]


@st.composite
def rules(draw, rule_id: int) -> Rule:
    rule_type = draw(st.sampled_from(RULE_TYPES))
    discount_type = draw(st.sampled_from([PERCENTAGE, PERCENTAGE, FIXED_AMOUNT, SHIPPING]))
    if discount_type == PERCENTAGE:
        value = draw(mostly(money(0, 100).filter(lambda v: v > 0)))
    elif discount_type == FIXED_AMOUNT:
        value = draw(mostly(money(1, 50_000)))
    else:
        value = None
    tiers = ()
    if rule_type in (BULK_PURCHASE, CUSTOM_CART_TOTAL):
        thresholds = st.integers(1, 30).map(Decimal) if rule_type == BULK_PURCHASE else money(0, 3_000_000)
        tier_values = money(1, 100) if discount_type != FIXED_AMOUNT else money(1, 50_000)
        tiers = draw(st.lists(st.builds(Tier, thresholds, tier_values), max_size=3).map(tuple))
    bxgy = {}
    if rule_type == BUY_X_GET_Y:
        bxgy = {
            "buy_quantity": draw(mostly(st.integers(0, 4))),
            "get_quantity": draw(mostly(st.integers(0, 3))),
            "max_applications": draw(maybe(st.integers(0, 4))),
        }
    category_ids, brand_ids, product_ids = draw(st.sampled_from(TARGETS))
    return Rule(
        id=rule_id,
        rule_type=rule_type,
        discount_type=discount_type,
        value=value,
        max_discount=draw(rarely(money(0, 20_000))),
        min_quantity=draw(rarely(st.integers(1, 20))),
        max_quantity=draw(rarely(st.integers(0, 20))),
        tiers=tiers,
        category_ids=category_ids,
        brand_ids=brand_ids,
        product_ids=product_ids,
        **bxgy,
    )


# When and for whom a campaign runs: presets rather than one draw per field, which keeps the
# generation fast enough for 300 examples while still mixing live and not-live campaigns.
ELIGIBILITY = [
    {},
    {},
    {},
    {"active": False},
    {"timezone": "UTC", "weekdays": frozenset({0, 1, 2})},
    {"timezone": "America/New_York", "daily_start": dt.time(9), "daily_end": dt.time(18)},
    {"timezone": "Asia/Kolkata", "daily_start": dt.time(22), "daily_end": dt.time(2), "weekdays": frozenset({4})},
    {"countries": frozenset({"in"})},
    {"audience": AUDIENCE_NEW},
    {"audience": AUDIENCE_EXISTING},
    {"audience": AUDIENCE_SEGMENTS, "segment_ids": frozenset({1, 2})},
    {"starts_at": AT + dt.timedelta(days=30)},
    {"ends_at": AT + dt.timedelta(days=1)},
]
LIMITS = [
    {},
    {},
    {"usage_limit": 2},
    {"customer_limit": 1},
    {"period_limit": 1, "period": PERIOD_DAY},
    {"period_limit": 2, "period": PERIOD_WEEK},
    {"period_limit": 1, "period": PERIOD_MONTH},
    {"period_limit": 2, "period": PERIOD_LIFETIME},
]


@st.composite
def campaigns(draw, campaign_id: int) -> Campaign:
    kind = draw(st.sampled_from([DISCOUNT_COUPON] * 5 + [FREE_SHIPPING] * 2 + [LOYALTY_PROGRAM]))
    rule_count = draw(st.sampled_from([1, 1, 1, 2, 3, 0]))
    when_and_who = {"starts_at": AT - dt.timedelta(days=1), **draw(st.sampled_from([{}] * 20 + ELIGIBILITY))}
    return Campaign(
        id=campaign_id,
        name=f"C{campaign_id}",
        kind=kind,
        priority=draw(st.integers(0, 3)),
        redemption_type=draw(st.sampled_from([AUTOMATIC, AUTOMATIC, AUTOMATIC, COUPON_CODE])),
        min_cart_value=draw(rarely(money(0, 50_000))),
        max_discount=draw(rarely(money(0, 50_000))),
        exclusive=draw(st.sampled_from([False] * 7 + [True])),
        stackable=draw(st.sampled_from([True, True, False])),
        budget=draw(rarely(money(1, 100_000))),
        rules=tuple(draw(rules(campaign_id * 10 + index)) for index in range(rule_count)),
        **when_and_who,
        **draw(st.sampled_from([{}] * 8 + LIMITS)),
    )


@st.composite
def scenarios(draw) -> tuple[Cart, Context, list[Campaign]]:
    the_cart = draw(carts)
    campaign_ids = draw(st.lists(st.integers(1, 40), min_size=1, max_size=15, unique=True))
    the_campaigns = [draw(campaigns(campaign_id)) for campaign_id in campaign_ids]
    recent = st.lists(st.integers(0, 24 * 40).map(lambda hours: AT - dt.timedelta(hours=hours)), max_size=3)
    usage = {cid: Usage(draw(st.integers(0, 3)), tuple(draw(recent))) for cid in campaign_ids if draw(st.booleans())}
    counters = {
        cid: Counter(draw(st.integers(0, 3)), draw(money(0, 100_000))) for cid in campaign_ids if draw(st.booleans())
    }
    code_ids = st.sampled_from([*campaign_ids, None, 99])
    codes = draw(
        st.lists(
            st.builds(
                CodeFact,
                code=st.sampled_from(["SAVE", "save", "X1", "X2", "Y"]),
                campaign_id=code_ids,
                single_use=st.booleans(),
                uses=st.integers(0, 2),
                max_uses=st.integers(1, 2),
            ),
            max_size=4,
        )
    )
    context = Context(
        at=AT + dt.timedelta(minutes=draw(st.integers(0, 7 * 24 * 60))),
        customer_id=draw(mostly(st.just(7))),
        is_new_customer=draw(st.booleans()),
        segment_ids=draw(ids),
        usage=usage,
        counters=counters,
        codes=tuple(codes),
    )
    return the_cart, context, the_campaigns


def all_amounts(result: Result) -> list[Decimal]:
    amounts = [result.subtotal, result.shipping, result.shipping_discount, result.total_discount, result.total]
    for applied in result.discounts:
        amounts += [applied.amount, applied.shipping_amount, *(line.amount for line in applied.lines)]
    amounts += [hint.missing_amount for hint in result.hints if hint.missing_amount is not None]
    return amounts


@PROPERTY
@given(scenarios(), st.randoms(use_true_random=False))
def test_every_result_keeps_the_engines_invariants(scenario, rng: random.Random):
    # One generated scenario feeds every check: generating carts and campaigns is what takes
    # the time, so the checks share it (each is a function named for what it holds).
    cart, context, the_campaigns = scenario
    result = evaluate(cart=cart, context=context, campaigns=the_campaigns)

    money_never_goes_negative_nor_past_what_was_there(cart, result)
    caps_and_budgets_hold(context, the_campaigns, result)
    stacking_holds(the_campaigns, result)
    rejections_name_known_reasons(result)
    the_answer_depends_only_on_the_input(cart, context, the_campaigns, result, rng)


def money_never_goes_negative_nor_past_what_was_there(cart: Cart, result: Result) -> None:
    items = sum((applied.amount for applied in result.discounts), Decimal(0))
    assert Decimal(0) <= result.total_discount == items + result.shipping_discount
    assert items <= result.subtotal
    assert Decimal(0) <= result.shipping_discount <= result.shipping
    assert result.total == result.subtotal + result.shipping - result.total_discount >= 0
    assert all(amount.as_tuple().exponent == -2 for amount in all_amounts(result))

    given_per_sku, total_per_sku = defaultdict(Decimal), defaultdict(Decimal)
    for line in cart.lines:
        total_per_sku[line.sku] += max(line.total, Decimal(0))
    for applied in result.discounts:
        assert applied.amount == sum((line.amount for line in applied.lines), Decimal(0))
        assert applied.amount + applied.shipping_amount > 0
        assert applied.amount >= 0 and applied.shipping_amount >= 0
        assert all(line.amount > 0 for line in applied.lines)
        for line in applied.lines:
            given_per_sku[line.sku] += line.amount
    assert all(given_per_sku[sku] <= total_per_sku[sku] for sku in given_per_sku)


def caps_and_budgets_hold(context: Context, the_campaigns: list[Campaign], result: Result) -> None:
    by_id = {campaign.id: campaign for campaign in the_campaigns}
    for discount in result.discounts:
        campaign = by_id[discount.campaign_id]
        assert campaign.kind != LOYALTY_PROGRAM
        if campaign.max_discount is not None:
            assert discount.amount <= campaign.max_discount
        item_rules = [rule for rule in campaign.rules if rule.discount_type != SHIPPING]
        shipping_rules = [rule for rule in campaign.rules if rule.discount_type == SHIPPING]
        if all(rule.max_discount is not None for rule in item_rules):
            assert discount.amount <= sum((rule.max_discount for rule in item_rules), Decimal(0))
        if all(rule.max_discount is not None for rule in shipping_rules):
            assert discount.shipping_amount <= sum((rule.max_discount for rule in shipping_rules), Decimal(0))
        if campaign.budget is not None:
            spent = context.counters.get(campaign.id, Counter()).discount_spent
            assert spent + discount.amount + discount.shipping_amount <= campaign.budget


def stacking_holds(the_campaigns: list[Campaign], result: Result) -> None:
    by_id = {campaign.id: campaign for campaign in the_campaigns}
    applied = [by_id[discount.campaign_id] for discount in result.discounts]
    if any(campaign.exclusive for campaign in applied):
        assert len(applied) == 1
    for kind in (DISCOUNT_COUPON, FREE_SHIPPING):
        lane = [campaign for campaign in applied if campaign.kind == kind]
        if any(not campaign.stackable for campaign in lane):
            assert len(lane) == 1


def rejections_name_known_reasons(result: Result) -> None:
    applied_ids = {applied.campaign_id for applied in result.discounts}
    for rejected in result.rejected:
        assert rejected.reason in REASONS
        assert rejected.message
        # A campaign either applied or was rejected; only a surplus code of it can be both.
        assert rejected.reason.startswith("code_") or rejected.campaign_id not in applied_ids


def the_answer_depends_only_on_the_input(
    cart: Cart, context: Context, the_campaigns: list[Campaign], result: Result, rng: random.Random
) -> None:
    assert evaluate(cart=cart, context=context, campaigns=the_campaigns) == result
    shuffled = list(the_campaigns)
    rng.shuffle(shuffled)
    assert evaluate(cart=cart, context=context, campaigns=shuffled) == result


@PROPERTY
@given(
    money(-1000, 100_000),
    st.lists(money(0, 100_000), max_size=12),
)
def test_allocate_adds_up_and_never_overshoots_a_weight(amount, weights):
    parts = allocate(amount, weights)

    assert len(parts) == len(weights)
    if not weights:
        return
    assert sum(parts, Decimal(0)) == amount
    assert all(part.as_tuple().exponent == -2 for part in parts)
    if 0 <= amount <= sum(weights) and sum(weights) > 0:
        assert all(Decimal(0) <= part <= weight for part, weight in zip(parts, weights, strict=True))


def _allocate_by_fractions(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """The largest-remainder split spelled out with Fractions: the reference ``allocate`` must match."""
    from fractions import Fraction

    whole = int(amount * 100)
    shares = [max(Fraction(w), Fraction(0)) for w in weights]
    total = sum(shares, Fraction(0)) or None
    if total is None:
        shares, total = [Fraction(1)] * len(weights), Fraction(len(weights))
    exact = [abs(whole) * share / total for share in shares]
    parts = [int(value) for value in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: abs(whole) - sum(parts)]:
        parts[i] += 1
    return [Decimal((-1 if whole < 0 else 1) * part).scaleb(-2) for part in parts]


@PROPERTY
@given(
    money(-1000, 100_000),
    st.lists(st.decimals(min_value=0, max_value=100_000, places=4, allow_nan=False), min_size=1, max_size=12),
)
def test_allocate_in_integers_matches_the_exact_fraction_split(amount, weights):
    assert allocate(amount, weights) == _allocate_by_fractions(amount, weights)
