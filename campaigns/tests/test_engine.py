"""The cart engine, rule by rule (pure Python: no database, no Django).

Every sentence of the engine's documented rule (``campaigns.engine.evaluate``) has a test
here; ``test_every_reason_is_produced`` walks a table holding one cart per rejection reason.
"""

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from campaigns.engine import (
    AUDIENCE_EXISTING,
    AUDIENCE_GROUPS,
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
    Hint,
    Line,
    LineDiscount,
    Location,
    Rejected,
    Result,
    Rule,
    Tier,
    Usage,
    allocate,
    cents,
    evaluate,
)

D = Decimal
UTC = dt.UTC
AT = dt.datetime(2025, 6, 16, 6, 30, tzinfo=UTC)  # Monday 12:00 in Kolkata
START = dt.datetime(2025, 1, 1, tzinfo=UTC)
_rule_ids = itertools.count(1)


def line(sku="A", qty=1, price="100.00", *, product=None, categories=(), brand=None) -> Line:
    return Line(sku, qty, D(price), product_id=product, category_ids=frozenset(categories), brand_id=brand)


def cart(*lines: Line, shipping="0.00", currency="INR") -> Cart:
    return Cart(tuple(lines), D(shipping), currency)


def rule(rule_type=WHOLE_CART, discount_type=PERCENTAGE, value="10", **extra) -> Rule:
    for name in ("category_ids", "brand_ids", "product_ids"):
        if name in extra:
            extra[name] = frozenset(extra[name])
    for name in ("max_discount",):
        if extra.get(name) is not None:
            extra[name] = D(extra[name])
    if "tiers" in extra:
        extra["tiers"] = tuple(Tier(D(threshold), D(tier_value)) for threshold, tier_value in extra["tiers"])
    return Rule(next(_rule_ids), rule_type, discount_type, None if value is None else D(value), **extra)


def shipping_rule(**extra) -> Rule:
    return rule(discount_type=SHIPPING, value=None, **extra)


def campaign(id=1, *rules: Rule, **extra) -> Campaign:
    for name in ("min_cart_value", "max_discount", "budget"):
        if extra.get(name) is not None:
            extra[name] = D(extra[name])
    extra.setdefault("name", f"Campaign {id}")
    extra.setdefault("kind", DISCOUNT_COUPON)
    extra.setdefault("starts_at", START)
    return Campaign(id=id, rules=rules or (rule(),), **extra)


def run(the_cart: Cart, *campaigns: Campaign, **context) -> Result:
    context.setdefault("at", AT)
    return evaluate(cart=the_cart, context=Context(**context), campaigns=campaigns)


def code(text="SAVE10", campaign_id=1, **extra) -> CodeFact:
    return CodeFact(text, campaign_id, **extra)


def applied_ids(result: Result) -> list[int]:
    return [applied.campaign_id for applied in result.discounts]


def reasons(result: Result) -> list[str]:
    return [rejected.reason for rejected in result.rejected]


def line_amounts(result: Result, index=0) -> list[Decimal]:
    return [discount.amount for discount in result.discounts[index].lines]


# --- Money ----------------------------------------------------------------------------------


def test_cents_rounds_half_up():
    assert cents(D("0.005")) == D("0.01")
    assert cents(D("0.015")) == D("0.02")
    assert cents(D("2.675")) == D("2.68")
    assert cents(D("-0.005")) == D("-0.01")
    assert cents(3).as_tuple().exponent == -2


def test_allocate_adds_up_exactly_and_breaks_ties_to_the_earlier_index():
    assert allocate(D("100.00"), [D(1), D(1), D(1)]) == [D("33.34"), D("33.33"), D("33.33")]
    assert allocate(D("0.05"), [D(1), D(1)]) == [D("0.03"), D("0.02")]


def test_allocate_gives_the_missing_cents_to_the_largest_remainders():
    # Exact shares 3.33c and 6.67c: the missing cent goes to the larger remainder (index 1).
    assert allocate(D("0.10"), [D(1), D(2)]) == [D("0.03"), D("0.07")]


def test_allocate_never_gives_a_part_more_than_its_weight():
    assert allocate(D("0.02"), [D("0.01")] * 3) == [D("0.01"), D("0.01"), D("0.00")]
    assert allocate(D("10.00"), [D("10.00"), D("0.00")]) == [D("10.00"), D("0.00")]


def test_allocate_of_nothing_or_over_nothing():
    assert allocate(D("5.00"), []) == []
    assert allocate(D("0.00"), [D(0), D(0)]) == [D("0.00"), D("0.00")]
    # Zero weights everywhere: split evenly so the parts still add up.
    assert allocate(D("0.03"), [D(0), D(0)]) == [D("0.02"), D("0.01")]


# --- Rule types -----------------------------------------------------------------------------


def test_whole_cart_percentage_takes_the_percentage_of_every_line():
    result = run(cart(line("A", 2, "250.00"), line("B", 1, "100.00")), campaign(1, rule(value="10")))

    assert result.discounts[0].lines == (LineDiscount("A", D("50.00")), LineDiscount("B", D("10.00")))
    assert result.discounts[0].amount == D("60.00")
    assert (result.subtotal, result.total_discount, result.total) == (D("600.00"), D("60.00"), D("540.00"))


def test_percentage_rounds_each_line_half_up():
    result = run(cart(line("A", 1, "0.05"), line("B", 1, "0.04")), campaign(1, rule(value="10")))

    assert line_amounts(result) == [D("0.01")]  # 0.005 -> 0.01; 0.004 -> 0.00 (not listed)
    assert result.discounts[0].lines[0].sku == "A"


def test_fixed_amount_is_split_by_what_is_left_of_each_line():
    result = run(cart(line("A", 3, "100.00"), line("B", 1, "100.00")), campaign(1, rule(discount_type=FIXED_AMOUNT)))

    assert result.discounts[0].amount == D("10.00")
    assert line_amounts(result) == [D("7.50"), D("2.50")]


def test_fixed_amount_is_at_most_what_is_left_of_the_matched_lines():
    result = run(cart(line("A", 1, "40.00")), campaign(1, rule(discount_type=FIXED_AMOUNT, value="100")))

    assert result.discounts[0].amount == D("40.00")
    assert result.total == D("0.00")


def test_category_rule_matches_a_line_filed_under_a_child_category():
    phones = line("PHONE", 1, "1000.00", categories={10, 11})  # Electronics (10) > Phones (11)
    shirt = line("SHIRT", 1, "500.00", categories={20})
    result = run(cart(phones, shirt), campaign(1, rule(CATEGORY, category_ids={10})))

    assert result.discounts[0].lines == (LineDiscount("PHONE", D("100.00")),)


def test_brand_rule_matches_only_that_brand():
    result = run(
        cart(line("A", 1, "100.00", brand=1), line("B", 1, "100.00", brand=2), line("C", 1, "100.00")),
        campaign(1, rule(BRAND, brand_ids={2})),
    )

    assert result.discounts[0].lines == (LineDiscount("B", D("10.00")),)


def test_product_rule_matches_only_those_products():
    result = run(
        cart(line("A", 1, "100.00", product=7), line("B", 1, "200.00", product=8)),
        campaign(1, rule(PRODUCT, value="50", product_ids={8, 9})),
    )

    assert result.discounts[0].lines == (LineDiscount("B", D("100.00")),)


def test_no_matching_line_is_reported_for_a_coded_campaign_and_silent_for_an_automatic_one():
    the_cart = cart(line("A", 1, "100.00", brand=1))
    coded = campaign(1, rule(BRAND, brand_ids={2}), redemption_type=COUPON_CODE)
    automatic = campaign(2, rule(BRAND, brand_ids={2}))
    result = run(the_cart, coded, automatic, codes=(code("BRAND2", 1),))

    assert result.rejected == (
        Rejected("no_matching_items", REASONS["no_matching_items"], campaign_id=1, code="BRAND2"),
    )
    assert result.discounts == ()


def test_a_line_without_units_is_not_in_the_cart():
    result = run(cart(line("A", 0, "100.00", brand=2)), campaign(1, rule(BRAND, brand_ids={2})))

    assert result.discounts == ()
    assert result.rejected == ()  # automatic: no matching items is noise


def test_min_quantity_is_met_exactly_at_the_minimum():
    the_campaign = campaign(1, rule(PRODUCT, product_ids={1}, min_quantity=3))

    assert run(cart(line("A", 3, "10.00", product=1)), the_campaign).discounts[0].amount == D("3.00")
    below = run(cart(line("A", 2, "10.00", product=1)), the_campaign)
    assert below.discounts == ()
    assert reasons(below) == ["min_quantity"]
    assert below.rejected[0].message == "The campaign needs 3 of its items; the cart has 2."
    assert below.hints == (Hint(1, "Buy 1 more to get 10% off.", missing_quantity=1),)


def test_bulk_purchase_tiers_take_the_highest_tier_reached():
    bulk = campaign(1, rule(BULK_PURCHASE, value=None, tiers=[("5", "10"), ("3", "5")]))

    def at_units(units):
        return run(cart(line("A", units, "100.00")), bulk)

    assert at_units(3).discounts[0].amount == D("15.00")  # exactly at the first tier
    assert at_units(4).discounts[0].amount == D("20.00")
    assert at_units(5).discounts[0].amount == D("50.00")  # exactly at the second
    assert at_units(9).discounts[0].amount == D("90.00")


def test_bulk_purchase_below_the_first_tier_hints_at_it():
    result = run(
        cart(line("A", 2, "100.00")), campaign(1, rule(BULK_PURCHASE, value=None, tiers=[("3", "5"), ("5", "10")]))
    )

    assert result.discounts == ()
    assert reasons(result) == ["min_quantity"]
    assert result.hints == (Hint(1, "Buy 1 more to get 5% off.", missing_quantity=1),)


def test_bulk_purchase_on_a_lower_tier_hints_at_the_next():
    result = run(
        cart(line("A", 3, "100.00")), campaign(1, rule(BULK_PURCHASE, value=None, tiers=[("3", "5"), ("5", "10")]))
    )

    assert result.hints == (Hint(1, "Buy 2 more to get 10% off.", missing_quantity=2),)
    assert (
        run(cart(line("A", 5, "100.00")), campaign(1, rule(BULK_PURCHASE, tiers=[("3", "5"), ("5", "10")]))).hints == ()
    )


def test_bulk_purchase_counts_any_of_its_targets():
    targeted = rule(BULK_PURCHASE, value="10", min_quantity=3, brand_ids={1}, category_ids={5}, product_ids={9})
    the_cart = cart(
        line("BRAND", 1, "100.00", brand=1),
        line("CAT", 1, "100.00", categories={5}),
        line("PROD", 1, "100.00", product=9),
        line("OTHER", 5, "100.00"),
    )
    result = run(the_cart, campaign(1, targeted))

    assert [discount.sku for discount in result.discounts[0].lines] == ["BRAND", "CAT", "PROD"]


def test_bulk_purchase_without_targets_counts_the_whole_cart_and_without_tiers_uses_its_value():
    bulk = campaign(1, rule(BULK_PURCHASE, value="20", min_quantity=3))

    assert run(cart(line("A", 2, "100.00"), line("B", 1, "50.00")), bulk).discounts[0].amount == D("50.00")
    assert reasons(run(cart(line("A", 2, "100.00")), bulk)) == ["min_quantity"]


def test_cart_total_tiers_take_the_highest_tier_reached_exactly_at_the_threshold():
    tiers = campaign(1, rule(CUSTOM_CART_TOTAL, value=None, tiers=[("1000", "10"), ("2000", "20")]))

    assert run(cart(line("A", 1, "1000.00")), tiers).discounts[0].amount == D("100.00")
    assert run(cart(line("A", 1, "1999.99")), tiers).discounts[0].amount == D("200.00")
    assert run(cart(line("A", 1, "2000.00")), tiers).discounts[0].amount == D("400.00")


def test_cart_total_below_the_first_tier_is_min_cart_with_the_missing_amount():
    result = run(
        cart(line("A", 1, "999.99")),
        campaign(1, rule(CUSTOM_CART_TOTAL, value=None, tiers=[("1000", "10"), ("2000", "20")])),
    )

    assert reasons(result) == ["min_cart"]
    assert result.rejected[0].message == "The cart is ₹999.99; the campaign starts at ₹1000.00."
    assert result.hints == (Hint(1, "Add ₹0.01 more to the cart for 10% off.", missing_amount=D("0.01")),)


def test_cart_total_on_a_lower_tier_hints_at_the_next_one():
    result = run(
        cart(line("A", 1, "1750.00")),
        campaign(1, rule(CUSTOM_CART_TOTAL, value=None, tiers=[("1000", "10"), ("2000", "20")])),
    )

    assert result.discounts[0].amount == D("175.00")
    assert result.hints == (Hint(1, "Add ₹250.00 more to the cart for 20% off.", missing_amount=D("250.00")),)


def test_cart_total_without_tiers_is_its_value_on_every_line():
    result = run(cart(line("A", 1, "100.00"), line("B", 1, "300.00")), campaign(1, rule(CUSTOM_CART_TOTAL, value="5")))

    assert line_amounts(result) == [D("5.00"), D("15.00")]


def test_cart_total_tiers_read_the_subtotal_before_earlier_discounts():
    first = campaign(1, rule(value="50"), priority=2)
    tiered = campaign(2, rule(CUSTOM_CART_TOTAL, value=None, tiers=[("1000", "10")]))
    result = run(cart(line("A", 1, "1000.00")), first, tiered)

    # The tier is reached on the 1000.00 subtotal; 10% of what is left (500.00) is taken.
    assert [applied.amount for applied in result.discounts] == [D("500.00"), D("50.00")]


def test_tiers_on_other_rule_types_are_ignored():
    result = run(cart(line("A", 1, "100.00")), campaign(1, rule(value="10", tiers=[("5000", "50")])))

    assert result.discounts[0].amount == D("10.00")


# --- max_quantity, buy X get Y, caps ---------------------------------------------------------


def test_max_quantity_discounts_the_dearest_units_first_ties_by_sku():
    the_cart = cart(line("C", 1, "100.00"), line("A", 3, "100.00"), line("B", 1, "500.00"))
    result = run(the_cart, campaign(1, rule(value="50", max_quantity=2)))

    # B (500) first, then one unit at 100: A before C by sku.
    assert result.discounts[0].lines == (LineDiscount("A", D("50.00")), LineDiscount("B", D("250.00")))


def test_max_quantity_ties_of_price_and_sku_go_by_line_order():
    result = run(cart(line("A", 1, "100.00"), line("A", 1, "100.00")), campaign(1, rule(value="50", max_quantity=1)))

    assert result.discounts[0].lines == (LineDiscount("A", D("50.00")),)
    assert result.discounts[0].amount == D("50.00")


def test_max_quantity_works_on_what_is_left_per_unit():
    earlier = campaign(1, rule(discount_type=FIXED_AMOUNT, value="100"), priority=1)
    capped = campaign(2, rule(value="100", max_quantity=1))
    result = run(cart(line("A", 3, "100.00")), earlier, capped)

    # 200.00 left over 3 units: one unit is 66.67 (rounded half up).
    assert [applied.amount for applied in result.discounts] == [D("100.00"), D("66.67")]


def test_max_quantity_with_a_fixed_amount_is_capped_at_the_picked_units():
    result = run(
        cart(line("A", 5, "20.00")), campaign(1, rule(discount_type=FIXED_AMOUNT, value="100", max_quantity=2))
    )

    assert result.discounts[0].amount == D("40.00")


def test_buy_two_get_one_gives_the_cheapest_unit_free():
    bxgy = campaign(1, rule(BUY_X_GET_Y, value=None, buy_quantity=2, get_quantity=1))
    result = run(cart(line("A", 1, "300.00"), line("B", 1, "100.00"), line("C", 1, "200.00")), bxgy)

    assert result.discounts[0].lines == (LineDiscount("B", D("100.00")),)


def test_buy_two_get_one_frees_one_unit_per_full_group():
    bxgy = campaign(1, rule(BUY_X_GET_Y, value=None, buy_quantity=2, get_quantity=1))
    result = run(cart(line("A", 4, "300.00"), line("B", 3, "100.00")), bxgy)

    # 7 units: two full groups of 3; the two cheapest units (B) are free.
    assert result.discounts[0].lines == (LineDiscount("B", D("200.00")),)


def test_buy_x_get_y_is_capped_by_max_applications():
    bxgy = campaign(1, rule(BUY_X_GET_Y, value=None, buy_quantity=1, get_quantity=1, max_applications=1))
    result = run(cart(line("A", 6, "100.00")), bxgy)

    assert result.discounts[0].amount == D("100.00")


def test_buy_x_get_y_value_is_the_percentage_off_the_free_units():
    bxgy = campaign(1, rule(BUY_X_GET_Y, value="50", buy_quantity=1, get_quantity=1))
    result = run(cart(line("A", 1, "300.00"), line("B", 1, "100.00")), bxgy)

    assert result.discounts[0].lines == (LineDiscount("B", D("50.00")),)


def test_buy_x_get_y_with_a_fixed_amount_takes_it_off_the_free_units():
    bxgy = campaign(1, rule(BUY_X_GET_Y, discount_type=FIXED_AMOUNT, value="30", buy_quantity=1, get_quantity=1))
    result = run(cart(line("A", 1, "300.00"), line("B", 1, "100.00")), bxgy)

    assert result.discounts[0].lines == (LineDiscount("B", D("30.00")),)


def test_buy_x_get_y_counts_only_its_targets():
    bxgy = campaign(1, rule(BUY_X_GET_Y, value=None, buy_quantity=1, get_quantity=1, brand_ids={1}))
    result = run(cart(line("A", 1, "300.00", brand=1), line("B", 1, "10.00"), line("C", 1, "200.00", brand=1)), bxgy)

    assert result.discounts[0].lines == (LineDiscount("C", D("200.00")),)


def test_buy_x_get_y_respects_the_rule_cap():
    bxgy = campaign(1, rule(BUY_X_GET_Y, value=None, buy_quantity=1, get_quantity=1, max_discount="75"))
    result = run(cart(line("A", 2, "100.00"), line("B", 2, "100.00")), bxgy)

    assert result.discounts[0].amount == D("75.00")


@pytest.mark.parametrize(
    ("units", "missing", "message"),
    [
        (0, None, None),  # no unit at all: no matching items (silent)
        (1, 2, "Buy 2 more to get 1 free."),
        (2, 1, "Buy 1 more to get 1 free."),
    ],
)
def test_buy_x_get_y_short_of_a_group_hints_how_many_more_unlock_a_free_item(units, missing, message):
    bxgy = campaign(1, rule(BUY_X_GET_Y, value=None, buy_quantity=2, get_quantity=1))
    result = run(cart(line("A", units, "100.00")), bxgy)

    assert result.discounts == ()
    if missing is None:
        assert result.hints == () and result.rejected == ()
    else:
        assert result.hints == (Hint(1, message, missing_quantity=missing),)
        assert reasons(result) == ["min_quantity"]


def test_buy_x_get_y_hint_names_a_partial_discount():
    bxgy = campaign(1, rule(BUY_X_GET_Y, value="50", buy_quantity=1, get_quantity=1))

    assert run(cart(line("A", 1, "100.00")), bxgy).hints[0].message == "Buy 1 more to get 1 at 50% off."


def test_a_min_cart_hint_names_the_buy_x_get_y_offer():
    bxgy = campaign(1, rule(BUY_X_GET_Y, value=None, buy_quantity=2, get_quantity=1), min_cart_value="500")

    assert run(cart(line("A", 3, "100.00")), bxgy).hints == (
        Hint(1, "Add ₹200.00 more to the cart for buy 2 get 1 free.", missing_amount=D("200.00")),
    )


def test_rule_cap_shrinks_the_lines_so_they_still_add_up():
    result = run(
        cart(line("A", 1, "600.00"), line("B", 1, "400.00")), campaign(1, rule(value="50", max_discount="100"))
    )

    assert line_amounts(result) == [D("60.00"), D("40.00")]


def test_rule_cap_splits_odd_cents_exactly():
    the_cart = cart(line("A", 1, "100.00"), line("B", 1, "100.00"), line("C", 1, "100.00"))
    result = run(the_cart, campaign(1, rule(value="50", max_discount="100")))

    assert line_amounts(result) == [D("33.34"), D("33.33"), D("33.33")]


def test_campaign_cap_applies_to_the_sum_of_its_rules():
    two_rules = campaign(1, rule(value="10"), rule(value="10"), max_discount="150")
    result = run(cart(line("A", 1, "1000.00")), two_rules)

    # Uncapped: 100 + 90 (the second rule works on what the first left).
    assert result.discounts[0].amount == D("150.00")


def test_a_campaigns_rules_each_work_on_what_the_earlier_rules_left():
    result = run(cart(line("A", 1, "1000.00")), campaign(1, rule(value="10"), rule(value="10")))

    assert result.discounts[0].amount == D("190.00")


def test_campaign_cap_does_not_touch_the_shipping_discount():
    mixed = campaign(1, rule(value="50"), shipping_rule(), max_discount="10")
    result = run(cart(line("A", 1, "100.00"), shipping="40.00"), mixed)

    assert (result.discounts[0].amount, result.discounts[0].shipping_amount) == (D("10.00"), D("40.00"))


# --- Free shipping --------------------------------------------------------------------------


def test_free_shipping_takes_all_the_shipping():
    result = run(cart(line("A", 1, "100.00"), shipping="49.00"), campaign(1, shipping_rule(), kind=FREE_SHIPPING))

    assert result.discounts[0].shipping_amount == D("49.00")
    assert result.discounts[0].amount == D("0.00")
    assert result.discounts[0].lines == ()
    assert (result.shipping_discount, result.total_discount, result.total) == (D("49.00"), D("49.00"), D("100.00"))


def test_free_shipping_up_to_the_rule_cap():
    result = run(
        cart(line("A", 1, "100.00"), shipping="100.00"),
        campaign(1, shipping_rule(max_discount="40"), kind=FREE_SHIPPING),
    )

    assert result.shipping_discount == D("40.00")


def test_free_shipping_follows_the_rule_condition():
    by_total = campaign(1, shipping_rule(rule_type=CUSTOM_CART_TOTAL, tiers=[("500", "0")]), kind=FREE_SHIPPING)

    assert run(cart(line("A", 1, "500.00"), shipping="50.00"), by_total).shipping_discount == D("50.00")
    below = run(cart(line("A", 1, "499.00"), shipping="50.00"), by_total)
    assert below.shipping_discount == D("0.00")
    assert below.hints == (Hint(1, "Add ₹1.00 more to the cart for free shipping.", missing_amount=D("1.00")),)


def test_free_shipping_tiers_give_no_nudge_once_reached():
    tiers = shipping_rule(rule_type=CUSTOM_CART_TOTAL, tiers=[("500", "1"), ("900", "2")])
    result = run(cart(line("A", 1, "600.00"), shipping="50.00"), campaign(1, tiers, kind=FREE_SHIPPING))

    assert result.shipping_discount == D("50.00")
    assert result.hints == ()


def test_free_shipping_on_a_product_needs_that_product():
    only_product = campaign(1, shipping_rule(rule_type=PRODUCT, product_ids={5}), kind=FREE_SHIPPING)

    assert run(cart(line("A", 1, "10.00", product=5), shipping="30.00"), only_product).shipping_discount == D("30.00")
    assert run(cart(line("A", 1, "10.00", product=6), shipping="30.00"), only_product).discounts == ()


def test_free_shipping_with_no_shipping_gives_nothing():
    result = run(cart(line("A", 1, "100.00")), campaign(1, shipping_rule(), kind=FREE_SHIPPING))

    assert result.discounts == ()
    assert reasons(result) == ["nothing_to_discount"]


def test_two_free_shipping_campaigns_share_the_shipping_never_more():
    capped = campaign(1, shipping_rule(max_discount="40"), kind=FREE_SHIPPING, priority=2)
    full = campaign(2, shipping_rule(), kind=FREE_SHIPPING)
    result = run(cart(line("A", 1, "100.00"), shipping="100.00"), capped, full)

    assert [applied.shipping_amount for applied in result.discounts] == [D("40.00"), D("60.00")]
    assert result.shipping_discount == D("100.00")


# --- Dates, days and hours ------------------------------------------------------------------


def test_a_campaign_is_live_from_its_start_up_to_but_not_at_its_end():
    assert applied_ids(run(cart(line()), campaign(1, starts_at=AT))) == [1]
    assert applied_ids(run(cart(line()), campaign(1, ends_at=AT + dt.timedelta(seconds=1)))) == [1]
    assert applied_ids(run(cart(line()), campaign(1, ends_at=None))) == [1]

    coded = {"redemption_type": COUPON_CODE}
    early = run(cart(line()), campaign(1, starts_at=AT + dt.timedelta(hours=1), **coded), codes=(code(),))
    assert reasons(early) == ["not_started"]
    assert early.rejected[0].message == "The campaign starts at 2025-06-16 13:00 (Asia/Kolkata)."
    late = run(cart(line()), campaign(1, ends_at=AT, **coded), codes=(code(),))
    assert reasons(late) == ["expired"]


def test_weekdays_are_the_campaigns_days():
    assert applied_ids(run(cart(line()), campaign(1, weekdays=frozenset({0})))) == [1]  # Monday

    result = run(cart(line()), campaign(1, weekdays=frozenset({1, 4}), redemption_type=COUPON_CODE), codes=(code(),))
    assert reasons(result) == ["outside_days"]
    assert result.rejected[0].message == "The campaign runs on Tue, Fri only (Asia/Kolkata)."


def test_daily_hours_include_the_start_and_exclude_the_end():
    def at_local(hour, minute=0):
        return dt.datetime(2025, 6, 16, hour, minute, tzinfo=UTC)

    window = campaign(1, timezone="UTC", daily_start=dt.time(9), daily_end=dt.time(17), redemption_type=COUPON_CODE)

    assert applied_ids(run(cart(line()), window, at=at_local(9), codes=(code(),))) == [1]
    assert applied_ids(run(cart(line()), window, at=at_local(16, 59), codes=(code(),))) == [1]
    late = run(cart(line()), window, at=at_local(17), codes=(code(),))
    assert reasons(late) == ["outside_hours"]
    assert late.rejected[0].message == "The campaign runs from 09:00 to 17:00 (UTC)."
    assert reasons(run(cart(line()), window, at=at_local(8, 59), codes=(code(),))) == ["outside_hours"]


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (dt.datetime(2025, 6, 20, 23, 0), None),  # Friday 23:00: open
        (dt.datetime(2025, 6, 21, 1, 0), None),  # Saturday 01:00: still Friday's window
        (dt.datetime(2025, 6, 21, 2, 0), "outside_days"),  # Saturday 02:00: closed, and Saturday is no day of it
        (dt.datetime(2025, 6, 20, 21, 59), "outside_hours"),  # Friday before opening
        (dt.datetime(2025, 6, 20, 1, 0), "outside_days"),  # Friday 01:00 belongs to Thursday's window
        (dt.datetime(2025, 6, 21, 22, 30), "outside_days"),  # Saturday's own window does not exist
    ],
)
def test_a_window_crossing_midnight_belongs_to_the_day_it_opened(when, reason):
    friday_nights = campaign(
        1,
        timezone="UTC",
        weekdays=frozenset({4}),
        daily_start=dt.time(22),
        daily_end=dt.time(2),
        redemption_type=COUPON_CODE,
    )
    result = run(cart(line()), friday_nights, at=when.replace(tzinfo=UTC), codes=(code(),))

    assert reasons(result) == ([] if reason is None else [reason])


def test_days_are_judged_in_the_campaigns_time_zone():
    sunday_evening_utc = dt.datetime(2025, 6, 15, 19, 0, tzinfo=UTC)  # Monday 00:30 in Kolkata
    mondays = {"weekdays": frozenset({0}), "redemption_type": COUPON_CODE}

    assert applied_ids(run(cart(line()), campaign(1, **mondays), at=sunday_evening_utc, codes=(code(),))) == [1]
    in_utc = run(cart(line()), campaign(1, timezone="UTC", **mondays), at=sunday_evening_utc, codes=(code(),))
    assert reasons(in_utc) == ["outside_days"]


def test_hours_follow_daylight_saving_in_the_campaigns_zone():
    office_hours = campaign(
        1, timezone="America/New_York", daily_start=dt.time(9), daily_end=dt.time(17), redemption_type=COUPON_CODE
    )

    def result_at(*when):
        return run(cart(line()), office_hours, at=dt.datetime(*when, tzinfo=UTC), codes=(code(),))

    assert applied_ids(result_at(2025, 7, 1, 13, 30)) == [1]  # 09:30 EDT
    assert reasons(result_at(2025, 1, 15, 13, 30)) == ["outside_hours"]  # 08:30 EST
    assert applied_ids(result_at(2025, 1, 15, 14, 30)) == [1]  # 09:30 EST


def test_a_window_with_only_a_start_runs_to_midnight():
    evenings = campaign(1, timezone="UTC", daily_start=dt.time(18), redemption_type=COUPON_CODE)

    assert applied_ids(run(cart(line()), evenings, at=dt.datetime(2025, 6, 16, 23, 59, tzinfo=UTC), codes=(code(),)))
    early = run(cart(line()), evenings, at=dt.datetime(2025, 6, 16, 17, 0, tzinfo=UTC), codes=(code(),))
    assert early.rejected[0].message == "The campaign runs from 18:00 to midnight (UTC)."


# --- Currency, geo, audience ----------------------------------------------------------------


def test_currency_must_match_ignoring_case():
    assert applied_ids(run(cart(line(), currency="inr"), campaign(1))) == [1]

    result = run(cart(line(), currency="USD"), campaign(1, redemption_type=COUPON_CODE), codes=(code(),))
    assert reasons(result) == ["currency"]
    assert result.rejected[0].message == "The campaign is in INR; the cart is in USD."


def test_geo_lists_match_ignoring_case():
    local = campaign(
        1,
        countries=frozenset({"in"}),
        states=frozenset({"maharashtra"}),
        cities=frozenset({"mumbai"}),
        redemption_type=COUPON_CODE,
    )
    here = Location("IN", "Maharashtra", "MUMBAI")

    assert applied_ids(run(cart(line()), local, location=here, codes=(code(),))) == [1]
    elsewhere = run(cart(line()), local, location=Location("IN", "Maharashtra", "Pune"), codes=(code(),))
    assert reasons(elsewhere) == ["geo"]
    assert elsewhere.rejected[0].message == "The campaign does not run in this city (Pune)."
    assert reasons(run(cart(line()), local, codes=(code(),))) == ["geo"]  # no location given


def test_an_empty_geo_list_means_anywhere():
    countries_only = campaign(1, countries=frozenset({"in"}))

    assert applied_ids(run(cart(line()), countries_only, location=Location("in", "", ""))) == [1]


@pytest.mark.parametrize(
    ("audience", "customer_id", "is_new", "segments", "reason"),
    [
        (AUDIENCE_NEW, 7, True, set(), None),
        (AUDIENCE_NEW, 7, False, set(), "audience"),
        (AUDIENCE_NEW, None, True, set(), "customer_required"),
        (AUDIENCE_EXISTING, 7, False, set(), None),
        (AUDIENCE_EXISTING, 7, True, set(), "audience"),
        (AUDIENCE_EXISTING, None, False, set(), "customer_required"),
        (AUDIENCE_GROUPS, 7, True, {1, 2}, None),
        (AUDIENCE_GROUPS, 7, True, {3}, "segment"),
        (AUDIENCE_SEGMENTS, 7, True, {2}, None),
        (AUDIENCE_SEGMENTS, 7, True, set(), "segment"),
        (AUDIENCE_SEGMENTS, None, True, {2}, "customer_required"),
    ],
)
def test_audience(audience, customer_id, is_new, segments, reason):
    the_campaign = campaign(1, audience=audience, segment_ids=frozenset({2, 5}), redemption_type=COUPON_CODE)
    result = run(
        cart(line()),
        the_campaign,
        customer_id=customer_id,
        is_new_customer=is_new,
        segment_ids=frozenset(segments),
        codes=(code(),),
    )

    assert reasons(result) == ([] if reason is None else [reason])
    assert applied_ids(result) == ([1] if reason is None else [])


def test_automatic_campaigns_skip_eligibility_failures_silently():
    failing = [
        campaign(1, active=False),
        campaign(2, starts_at=AT + dt.timedelta(days=1)),
        campaign(3, ends_at=AT),
        campaign(4, weekdays=frozenset({3})),
        campaign(5, daily_start=dt.time(1), daily_end=dt.time(2)),
        campaign(6, currency="USD"),
        campaign(7, cities=frozenset({"pune"})),
        campaign(8, audience=AUDIENCE_NEW),
        campaign(9, audience=AUDIENCE_SEGMENTS, segment_ids=frozenset({1})),
    ]
    result = run(cart(line()), *failing)

    assert result.discounts == () and result.rejected == () and result.hints == ()


def test_explain_reports_why_each_automatic_campaign_did_not_apply():
    failing = [campaign(1, active=False), campaign(6, currency="USD"), campaign(8, audience=AUDIENCE_NEW)]

    result = evaluate(cart=cart(line()), context=Context(at=AT), campaigns=failing, explain=True)

    assert [(r.campaign_id, r.reason) for r in result.rejected] == [
        (1, "inactive"), (6, "currency"), (8, "customer_required"),
    ]  # fmt: skip


# --- Limits and budget ----------------------------------------------------------------------


def test_usage_limit_counts_every_customers_uses():
    limited = campaign(1, usage_limit=100)

    assert applied_ids(run(cart(line()), limited, counters={1: Counter(uses=99)})) == [1]
    result = run(cart(line()), limited, counters={1: Counter(uses=100)})
    assert result.rejected == (Rejected("usage_limit", "Used 100 of 100 times.", campaign_id=1),)


def test_customer_limit_counts_the_customers_lifetime_uses():
    once = campaign(1, customer_limit=1)

    assert applied_ids(run(cart(line()), once, customer_id=7)) == [1]
    result = run(cart(line()), once, customer_id=7, usage={1: Usage(lifetime=1)})
    assert result.rejected == (Rejected("customer_limit", "Used 1 of 1 times.", campaign_id=1),)


def test_customer_limits_need_a_customer_even_for_automatic_campaigns():
    result = run(cart(line()), campaign(1, customer_limit=1))

    assert reasons(result) == ["customer_required"]
    assert result.rejected[0].campaign_id == 1


def test_a_lifetime_period_limit_counts_lifetime_uses():
    twice = campaign(1, period_limit=2, period=PERIOD_LIFETIME)

    assert applied_ids(run(cart(line()), twice, customer_id=7, usage={1: Usage(lifetime=1)})) == [1]
    assert reasons(run(cart(line()), twice, customer_id=7, usage={1: Usage(lifetime=2)})) == ["customer_limit"]


# ``AT_MIDNIGHT`` is Monday 2025-06-30 00:30 in Kolkata but still Sunday 06-29 19:00 in UTC;
# the earlier use at 18:00 UTC is Sunday 23:30 in Kolkata: another local day and ISO week there,
# the same day and week in UTC. Both are June either way; 2025-07-01 00:30 IST is July.
AT_MIDNIGHT = dt.datetime(2025, 6, 29, 19, 0, tzinfo=UTC)
EARLIER = dt.datetime(2025, 6, 29, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize("period", [PERIOD_DAY, PERIOD_WEEK])
def test_day_and_week_limits_reset_at_local_midnight_and_monday(period):
    usage = {1: Usage(lifetime=5, recent=(EARLIER,))}

    kolkata = run(cart(line()), campaign(1, period_limit=1, period=period), at=AT_MIDNIGHT, customer_id=7, usage=usage)
    assert applied_ids(kolkata) == [1]
    in_utc = campaign(1, period_limit=1, period=period, timezone="UTC")
    result = run(cart(line()), in_utc, at=AT_MIDNIGHT, customer_id=7, usage=usage)
    assert reasons(result) == ["customer_limit"]
    assert result.rejected[0].message == f"Used 1 of 1 times{' today' if period == PERIOD_DAY else ' this week'}."


def test_month_limits_reset_on_the_first_in_the_campaigns_zone():
    at = dt.datetime(2025, 6, 30, 19, 0, tzinfo=UTC)  # July 1st 00:30 in Kolkata
    usage = {1: Usage(lifetime=5, recent=(dt.datetime(2025, 6, 30, 18, 0, tzinfo=UTC),))}

    kolkata = campaign(1, period_limit=1, period=PERIOD_MONTH)
    assert applied_ids(run(cart(line()), kolkata, at=at, customer_id=7, usage=usage)) == [1]
    in_utc = campaign(1, period_limit=1, period=PERIOD_MONTH, timezone="UTC")
    assert reasons(run(cart(line()), in_utc, at=at, customer_id=7, usage=usage)) == ["customer_limit"]


def test_period_limits_count_every_use_in_the_period():
    usage = {1: Usage(lifetime=9, recent=(AT - dt.timedelta(days=40), AT - dt.timedelta(hours=1), AT))}
    weekly = campaign(1, period_limit=2, period=PERIOD_WEEK)

    assert reasons(run(cart(line()), weekly, customer_id=7, usage=usage)) == ["customer_limit"]
    assert applied_ids(run(cart(line()), campaign(1, period_limit=3, period=PERIOD_WEEK), customer_id=7, usage=usage))


def test_a_spent_budget_rejects_before_the_cart_is_looked_at():
    result = run(cart(line()), campaign(1, budget="500"), counters={1: Counter(discount_spent=D("500.00"))})

    assert result.rejected == (Rejected("budget_exhausted", "The campaign's budget of ₹500.00 is spent.", 1),)


def test_a_campaign_applies_in_full_within_its_budget_or_not_at_all():
    budgeted = campaign(1, rule(value="10"), shipping_rule(), budget="500")
    the_cart = cart(line("A", 1, "1000.00"), shipping="50.00")  # 100 off items + 50 shipping

    exact = run(the_cart, budgeted, counters={1: Counter(discount_spent=D("350.00"))})
    assert exact.total_discount == D("150.00")
    over = run(the_cart, budgeted, counters={1: Counter(discount_spent=D("350.01"))})
    assert over.discounts == ()
    assert over.rejected[0].reason == "budget_exhausted"
    assert (
        over.rejected[0].message == "The discount of ₹150.00 would exceed the campaign's remaining budget of ₹149.99."
    )


def test_limits_are_checked_before_the_minimum_cart_value():
    result = run(cart(line()), campaign(1, usage_limit=1, min_cart_value="1000"), counters={1: Counter(uses=1)})

    assert reasons(result) == ["usage_limit"]
    assert result.hints == ()


def test_min_cart_value_is_on_the_subtotal_with_a_hint():
    result = run(cart(line("A", 1, "750.00")), campaign(1, min_cart_value="1000"))

    assert reasons(result) == ["min_cart"]
    assert result.rejected[0].message == "The cart is ₹750.00; the campaign needs ₹1000.00."
    assert result.hints == (Hint(1, "Add ₹250.00 more to the cart for 10% off.", missing_amount=D("250.00")),)
    assert applied_ids(run(cart(line("A", 1, "1000.00")), campaign(1, min_cart_value="1000"))) == [1]


# --- Codes ----------------------------------------------------------------------------------


def test_a_coupon_campaign_applies_with_its_code_recorded():
    result = run(cart(line()), campaign(1, redemption_type=COUPON_CODE), codes=(code("save10"),))

    assert result.discounts[0].code == "save10"


def test_a_coupon_campaign_without_its_code_is_silently_not_a_candidate():
    result = run(cart(line()), campaign(1, redemption_type=COUPON_CODE))

    assert result.discounts == () and result.rejected == () and result.hints == ()


def test_an_unknown_code_is_rejected_with_the_code_typed():
    coupon = campaign(1, redemption_type=COUPON_CODE)
    result = run(cart(line()), coupon, codes=(code("NOPE", None), code("OTHER", 99)))

    assert result.rejected == (
        Rejected("code_unknown", "No campaign has the code NOPE.", None, "NOPE"),
        Rejected("code_unknown", "No campaign has the code OTHER.", None, "OTHER"),
    )


def test_a_used_single_use_code_is_rejected():
    coupon = campaign(1, redemption_type=COUPON_CODE)
    used = run(cart(line()), coupon, codes=(code("X1", single_use=True, uses=1, max_uses=1),))

    assert used.rejected == (Rejected("code_used", "The code X1 has been used (used 1 of 1 times).", 1, "X1"),)
    assert used.discounts == ()
    fresh = run(cart(line()), coupon, codes=(code("X2", single_use=True, uses=1, max_uses=2),))
    assert applied_ids(fresh) == [1]


def test_an_assigned_code_applies_for_its_owner_only():
    coupon = campaign(1, redemption_type=COUPON_CODE)
    mine = code("MINE1", single_use=True, assigned=True, owner_id=7)

    assert applied_ids(run(cart(line()), coupon, codes=(mine,), customer_id=7)) == [1]
    for someone in (8, 0, None):  # another customer, one not mirrored yet, a guest
        result = run(cart(line()), coupon, codes=(mine,), customer_id=someone)
        assert result.discounts == ()
        assert result.rejected == (
            Rejected(
                "code_not_yours", "The code MINE1 was given to another customer; only they can use it.", None, "MINE1"
            ),
        )


def test_another_customers_code_says_nothing_of_its_campaign_or_its_uses():
    coupon = campaign(1, redemption_type=COUPON_CODE)
    used = code("THEIRS", single_use=True, uses=1, assigned=True, owner_id=7)

    result = run(cart(line()), coupon, codes=(used,), customer_id=8)

    assert reasons(result) == ["code_not_yours"]
    assert result.rejected[0].campaign_id is None


def test_a_code_whose_holder_is_gone_belongs_to_nobody():
    coupon = campaign(1, redemption_type=COUPON_CODE)
    orphan = code("ORPHAN", single_use=True, assigned=True, owner_id=None)

    for someone in (None, 0, 7):
        assert reasons(run(cart(line()), coupon, codes=(orphan,), customer_id=someone)) == ["code_not_yours"]


def test_an_owners_used_code_is_used():
    coupon = campaign(1, redemption_type=COUPON_CODE)
    used = code("MINE1", single_use=True, uses=1, assigned=True, owner_id=7)

    assert reasons(run(cart(line()), coupon, codes=(used,), customer_id=7)) == ["code_used"]


def test_the_same_code_twice_is_a_duplicate_ignoring_case():
    coupon = campaign(1, redemption_type=COUPON_CODE)
    result = run(cart(line()), coupon, codes=(code("SAVE10"), code("save10")))

    assert applied_ids(result) == [1]
    assert result.rejected == (Rejected("code_duplicate", "The code save10 was given twice.", 1, "save10"),)


def test_two_codes_for_one_campaign_the_second_is_a_duplicate():
    coupon = campaign(1, redemption_type=COUPON_CODE)
    result = run(cart(line()), coupon, codes=(code("A1", single_use=True), code("B2", single_use=True)))

    assert result.discounts[0].code == "A1"
    assert reasons(result) == ["code_duplicate"]
    assert result.rejected[0].message == "The code B2 is for the same campaign as A1."


def test_a_used_code_does_not_claim_its_campaign_for_the_next_code():
    coupon = campaign(1, redemption_type=COUPON_CODE)
    result = run(cart(line()), coupon, codes=(code("A1", single_use=True, uses=1), code("B2", single_use=True)))

    assert result.discounts[0].code == "B2"
    assert reasons(result) == ["code_used"]


def test_an_automatic_campaign_named_by_a_code_applies_with_the_code_and_reports_everything():
    automatic = campaign(1, redemption_type=AUTOMATIC)
    assert run(cart(line()), automatic, codes=(code("AUTO"),)).discounts[0].code == "AUTO"

    off_day = campaign(1, weekdays=frozenset({3}))
    assert run(cart(line()), off_day, codes=(code("AUTO"),)).rejected == (
        Rejected("outside_days", "The campaign runs on Thu only (Asia/Kolkata).", 1, "AUTO"),
    )


def test_loyalty_programs_are_ignored_entirely():
    loyalty = campaign(1, kind=LOYALTY_PROGRAM)
    result = run(cart(line()), loyalty, codes=(code("LOYAL"),))

    assert result.discounts == ()
    assert reasons(result) == ["code_unknown"]


def test_code_rejections_come_first_then_campaigns_in_priority_order():
    the_cart = cart(line("A", 1, "100.00"))
    low = campaign(1, min_cart_value="500", priority=1)
    high = campaign(2, min_cart_value="300", priority=5)
    result = run(the_cart, low, high, codes=(code("NOPE", None),))

    assert [(rejected.reason, rejected.campaign_id) for rejected in result.rejected] == [
        ("code_unknown", None),
        ("min_cart", 2),
        ("min_cart", 1),
    ]
    assert [hint.campaign_id for hint in result.hints] == [2, 1]


# --- Stacking -------------------------------------------------------------------------------


def test_campaigns_apply_by_priority_each_on_what_the_earlier_left():
    first = campaign(2, rule(value="10"), priority=5)
    second = campaign(1, rule(value="10"), priority=1)
    result = run(cart(line("A", 1, "1000.00")), second, first)

    assert [(applied.campaign_id, applied.amount) for applied in result.discounts] == [
        (2, D("100.00")),
        (1, D("90.00")),
    ]
    assert result.total == D("810.00")


def test_equal_priorities_apply_by_id():
    result = run(cart(line("A", 1, "1000.00")), campaign(7, rule(value="10")), campaign(3, rule(value="50")))

    assert [(applied.campaign_id, applied.amount) for applied in result.discounts] == [
        (3, D("500.00")),
        (7, D("50.00")),
    ]


def test_a_fully_discounted_line_gives_later_campaigns_nothing():
    result = run(cart(line("A", 1, "100.00")), campaign(1, rule(value="100"), priority=1), campaign(2))

    assert applied_ids(result) == [1]
    assert result.rejected == (Rejected("nothing_to_discount", REASONS["nothing_to_discount"], 2),)
    assert result.total == D("0.00")


def test_an_exclusive_campaign_applies_alone_even_below_others_priority():
    exclusive = campaign(3, rule(value="5"), exclusive=True, priority=0)
    others = [campaign(1, priority=9), campaign(2, shipping_rule(), kind=FREE_SHIPPING, priority=9)]
    result = run(cart(line("A", 1, "100.00"), shipping="10.00"), exclusive, *others)

    assert applied_ids(result) == [3]
    assert result.rejected == (
        Rejected("not_stackable", "Campaign 3 applies alone.", 1),
        Rejected("not_stackable", "Campaign 3 applies alone.", 2),
    )


def test_the_first_exclusive_campaign_wins_by_priority():
    result = run(
        cart(line()),
        campaign(1, exclusive=True, priority=1),
        campaign(2, exclusive=True, priority=2),
    )

    assert applied_ids(result) == [2]
    assert result.rejected == (Rejected("not_stackable", "Campaign 2 applies alone.", 1),)


def test_an_exclusive_campaign_that_gives_nothing_steps_aside():
    exclusive = campaign(1, rule(PRODUCT, product_ids={99}), exclusive=True, priority=9, redemption_type=COUPON_CODE)
    result = run(cart(line()), exclusive, campaign(2), campaign(3), codes=(code(),))

    assert applied_ids(result) == [2, 3]
    assert reasons(result) == ["no_matching_items"]


def test_an_exclusive_campaign_short_of_its_minimum_hints_and_lets_others_apply():
    exclusive = campaign(1, exclusive=True, min_cart_value="500", priority=9)
    result = run(cart(line("A", 1, "100.00")), exclusive, campaign(2))

    assert applied_ids(result) == [2]
    assert reasons(result) == ["min_cart"]
    assert [hint.campaign_id for hint in result.hints] == [1]


def test_a_blocked_campaign_that_could_not_apply_anyway_keeps_its_own_reason_and_gives_no_hint():
    exclusive = campaign(1, exclusive=True)
    short = campaign(2, min_cart_value="500")
    result = run(cart(line("A", 1, "100.00")), exclusive, short)

    assert result.rejected[0].reason == "min_cart"
    assert result.hints == ()  # adding to the cart would not beat the exclusive campaign


def test_a_non_stackable_campaign_first_in_its_lane_blocks_the_rest_of_the_lane():
    alone = campaign(1, rule(value="20"), stackable=False, priority=5)
    later = campaign(2, rule(value="10"))
    result = run(cart(line("A", 1, "100.00")), alone, later)

    assert applied_ids(result) == [1]
    assert result.rejected == (
        Rejected("not_stackable", "Campaign 1 applied and does not combine with other campaigns.", 2),
    )


def test_a_non_stackable_campaign_after_another_in_its_lane_is_blocked_and_the_lane_goes_on():
    first = campaign(1, rule(value="10"), priority=5)
    picky = campaign(2, rule(value="50"), stackable=False, priority=3)
    third = campaign(3, rule(value="10"), priority=1)
    result = run(cart(line("A", 1, "100.00")), first, picky, third)

    assert applied_ids(result) == [1, 3]
    assert result.rejected == (
        Rejected("not_stackable", "This campaign does not combine with Campaign 1, which applied first.", 2),
    )


def test_items_and_shipping_are_separate_lanes():
    items_alone = campaign(1, rule(value="10"), stackable=False, priority=5)
    shipping_alone = campaign(2, shipping_rule(), kind=FREE_SHIPPING, stackable=False, priority=4)
    result = run(cart(line("A", 1, "100.00"), shipping="20.00"), items_alone, shipping_alone)

    assert applied_ids(result) == [1, 2]
    assert (result.total_discount, result.total) == (D("30.00"), D("90.00"))


def test_a_campaigns_lane_is_its_kind_not_its_rules():
    # A discount campaign that also takes part of the shipping sits in the items lane: a
    # non-stackable free-shipping campaign still applies on the shipping it left.
    mixed = campaign(1, rule(value="10"), shipping_rule(max_discount="5"), stackable=False, priority=5)
    shipping_alone = campaign(2, shipping_rule(), kind=FREE_SHIPPING, stackable=False)
    items_later = campaign(3, rule(value="10"))
    result = run(cart(line("A", 1, "100.00"), shipping="20.00"), mixed, shipping_alone, items_later)

    assert applied_ids(result) == [1, 2]
    assert [applied.shipping_amount for applied in result.discounts] == [D("5.00"), D("15.00")]
    assert reasons(result) == ["not_stackable"]


def test_a_blocked_automatic_campaign_without_matching_items_stays_silent():
    alone = campaign(1, stackable=False, priority=5)
    unrelated = campaign(2, rule(BRAND, brand_ids={9}))
    result = run(cart(line()), alone, unrelated)

    assert result.rejected == ()


def test_a_campaign_over_budget_gives_no_hint():
    over = campaign(1, rule(BULK_PURCHASE, value=None, tiers=[("1", "10"), ("5", "20")]), budget="5")
    result = run(cart(line("A", 1, "100.00")), over)

    assert reasons(result) == ["budget_exhausted"]
    assert result.hints == ()


# --- Results --------------------------------------------------------------------------------


def test_an_empty_cart_gives_nothing_and_reports_no_matching_items_for_a_code():
    result = run(cart(), campaign(1, redemption_type=COUPON_CODE), campaign(2), codes=(code(),))

    assert result == Result(
        subtotal=D("0.00"),
        shipping=D("0.00"),
        discounts=(),
        shipping_discount=D("0.00"),
        total_discount=D("0.00"),
        total=D("0.00"),
        rejected=(Rejected("no_matching_items", REASONS["no_matching_items"], 1, "SAVE10"),),
        hints=(),
    )


def test_zero_prices_and_quantities_never_go_negative():
    the_cart = cart(line("A", 0, "100.00"), line("B", 3, "0.00"), line("C", 1, "0.00"), shipping="0.00")
    everything = [
        campaign(1, rule(discount_type=FIXED_AMOUNT, value="50")),
        campaign(2, rule(BUY_X_GET_Y, value=None, buy_quantity=1, get_quantity=1)),
        campaign(3, shipping_rule(), kind=FREE_SHIPPING),
        campaign(4, rule(value="100", max_quantity=5)),
    ]
    result = run(the_cart, *everything)

    assert result.discounts == ()
    assert set(reasons(result)) == {"nothing_to_discount"}
    assert result.total == D("0.00")


def test_a_sku_on_two_lines_gives_two_line_discounts_in_cart_order():
    result = run(cart(line("A", 1, "100.00"), line("B", 1, "0.00"), line("A", 2, "50.00")), campaign(1))

    assert result.discounts[0].lines == (LineDiscount("A", D("10.00")), LineDiscount("A", D("10.00")))


def test_every_amount_has_two_places():
    result = run(
        cart(line("A", 3, "33.333"), shipping="7"),
        campaign(1, rule(value="7"), rule(discount_type=FIXED_AMOUNT, value="1")),
        campaign(2, shipping_rule(), kind=FREE_SHIPPING),
    )

    amounts = [result.subtotal, result.shipping, result.shipping_discount, result.total_discount, result.total]
    for applied in result.discounts:
        amounts += [applied.amount, applied.shipping_amount, *(discount.amount for discount in applied.lines)]
    assert all(amount.as_tuple().exponent == -2 for amount in amounts)
    assert result.subtotal == D("100.00")  # 99.999 -> 100.00


def test_the_result_does_not_depend_on_the_order_campaigns_are_given_in():
    some = [campaign(id, rule(value=str(id)), priority=id % 3, stackable=id != 4) for id in range(1, 7)]
    the_cart = cart(line("A", 2, "100.00"), line("B", 1, "55.55"))

    assert run(the_cart, *some) == run(the_cart, *reversed(some))


# --- Every reason, once ---------------------------------------------------------------------

COUPON = {"redemption_type": COUPON_CODE}
CODE = {"codes": (code(),)}


def _by_code(*rules, **campaign_extra):
    return lambda: run(cart(line()), campaign(1, *rules, **COUPON, **campaign_extra), **CODE)


REASON_CASES = {
    "code_unknown": lambda: run(cart(line()), codes=(code("X", None),)),
    "code_used": lambda: run(cart(line()), campaign(1, **COUPON), codes=(code(single_use=True, uses=1),)),
    "code_duplicate": lambda: run(cart(line()), campaign(1, **COUPON), codes=(code("A"), code("a"))),
    "code_not_yours": lambda: run(
        cart(line()), campaign(1, **COUPON), codes=(code(single_use=True, assigned=True, owner_id=2),), customer_id=1
    ),
    "not_started": _by_code(starts_at=AT + dt.timedelta(days=1)),
    "expired": _by_code(ends_at=AT),
    "inactive": _by_code(active=False),
    "outside_days": _by_code(weekdays=frozenset({6})),
    "outside_hours": _by_code(daily_start=dt.time(20), daily_end=dt.time(21)),
    "currency": _by_code(currency="EUR"),
    "geo": _by_code(countries=frozenset({"us"})),
    "audience": lambda: run(
        cart(line()), campaign(1, **COUPON, audience=AUDIENCE_NEW), customer_id=1, is_new_customer=False, **CODE
    ),
    "segment": lambda: run(cart(line()), campaign(1, **COUPON, audience=AUDIENCE_GROUPS), customer_id=1, **CODE),
    "customer_required": _by_code(audience=AUDIENCE_EXISTING),
    "min_cart": _by_code(min_cart_value="1000"),
    "no_matching_items": _by_code(rule(PRODUCT, product_ids={1})),
    "min_quantity": _by_code(rule(min_quantity=2)),
    "nothing_to_discount": lambda: run(cart(line(price="0")), campaign(1, **COUPON), **CODE),
    "usage_limit": lambda: run(cart(line()), campaign(1, **COUPON, usage_limit=1), counters={1: Counter(1)}, **CODE),
    "customer_limit": lambda: run(
        cart(line()), campaign(1, **COUPON, customer_limit=1), customer_id=1, usage={1: Usage(1)}, **CODE
    ),
    "budget_exhausted": _by_code(budget="5"),
    "not_stackable": lambda: run(cart(line()), campaign(1, exclusive=True), campaign(2)),
}


def test_the_reason_table_covers_every_reason_the_engine_gives():
    assert set(REASON_CASES) == set(REASONS)


@pytest.mark.parametrize("reason", sorted(REASON_CASES))
def test_every_reason_is_produced(reason):
    result = REASON_CASES[reason]()

    produced = [rejected for rejected in result.rejected if rejected.reason == reason]
    assert produced, result.rejected
    assert all(rejected.message for rejected in produced)
