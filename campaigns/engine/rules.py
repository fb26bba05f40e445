"""One discount rule on one cart: which lines it matches, whether its condition holds, and
what it takes off each line (or off the shipping).

A rule always works on what is *left* of each line (``remaining``, in cents) after earlier
campaigns and earlier rules of its own campaign, so it can never push a line below zero;
thresholds (quantities, cart total) are read on the cart as it is, since taking a discount
does not change how many items the customer bought.
"""

import math
from dataclasses import dataclass, field
from decimal import Decimal

from campaigns.engine.money import ZERO, allocate, cents, cents_up, money_text, number_text
from campaigns.engine.types import (
    BRAND,
    BULK_PURCHASE,
    BUY_X_GET_Y,
    CATEGORY,
    CUSTOM_CART_TOTAL,
    FIXED_AMOUNT,
    PERCENTAGE,
    PRODUCT,
    SHIPPING,
    WHOLE_CART,
    Hint,
    Line,
    Rule,
    Tier,
)

HUNDRED = Decimal(100)


@dataclass
class RuleOutcome:
    """A rule's answer. ``reason`` None: the condition holds and ``items`` (line index ->
    amount) and ``shipping`` are what it gives (possibly nothing)."""

    reason: str | None = None
    message: str = ""
    items: dict[int, Decimal] = field(default_factory=dict)
    shipping: Decimal = ZERO
    hints: list[Hint] = field(default_factory=list)


@dataclass(frozen=True)
class CartView:
    """The cart as a rule sees it: the lines, what is left of each, the shipping left, and
    the subtotal before any discount (the figure thresholds are read on)."""

    lines: tuple[Line, ...]
    remaining: list[Decimal]
    shipping_left: Decimal
    subtotal: Decimal
    currency: str
    matches: dict[int, list[int]] = field(default_factory=dict)  # id(rule) -> its matched lines, per evaluation
    present: "Present | None" = None  # what the cart holds, to skip rules aimed elsewhere at once


@dataclass(frozen=True)
class Present:
    """The categories (with ancestors), brands and products of the cart's lines with units."""

    category_ids: frozenset[int]
    brand_ids: frozenset[int]
    product_ids: frozenset[int]

    @classmethod
    def of(cls, lines: tuple[Line, ...]) -> "Present":
        live = [line for line in lines if line.quantity > 0]
        return cls(
            frozenset(c for line in live for c in line.category_ids),
            frozenset(line.brand_id for line in live if line.brand_id is not None),
            frozenset(line.product_id for line in live if line.product_id is not None),
        )

    def misses(self, rule: Rule) -> bool:
        """No line can match the rule's targets (a rule without targets matches by type)."""
        return (
            self.category_ids.isdisjoint(rule.category_ids)
            and self.brand_ids.isdisjoint(rule.brand_ids)
            and self.product_ids.isdisjoint(rule.product_ids)
        )


def matched_lines(rule: Rule, lines: tuple[Line, ...]) -> list[int]:
    """Indexes of the lines the rule is about. A line with no units is not in the cart."""
    live = [index for index, line in enumerate(lines) if line.quantity > 0]
    kind = rule.rule_type
    if kind in (WHOLE_CART, CUSTOM_CART_TOTAL):
        return live
    if kind == CATEGORY:
        return [index for index in live if lines[index].category_ids & rule.category_ids]
    if kind == BRAND:
        return [index for index in live if _brand_matches(rule, lines[index])]
    if kind == PRODUCT:
        return [index for index in live if _product_matches(rule, lines[index])]
    if kind in (BULK_PURCHASE, BUY_X_GET_Y):
        # Quantity rules count "any of these" items; with no target at all they count the cart.
        if not (rule.category_ids or rule.brand_ids or rule.product_ids):
            return live
        return [
            index
            for index in live
            if lines[index].category_ids & rule.category_ids
            or _brand_matches(rule, lines[index])
            or _product_matches(rule, lines[index])
        ]
    return []


def matched_once(
    rule: Rule, lines: tuple[Line, ...], present: "Present | None", matches: dict[int, list[int]]
) -> list[int]:
    """``matched_lines``, worked out once per rule per evaluation (``matches`` keeps them), and
    at once for a rule whose targets the cart does not hold."""
    matched = matches.get(id(rule))
    if matched is None:
        targeted = rule.rule_type not in (WHOLE_CART, CUSTOM_CART_TOTAL) and (
            rule.category_ids or rule.brand_ids or rule.product_ids
        )
        missed = targeted and present is not None and present.misses(rule)
        matched = matches[id(rule)] = [] if missed else matched_lines(rule, lines)
    return matched


def _brand_matches(rule: Rule, line: Line) -> bool:
    return line.brand_id is not None and line.brand_id in rule.brand_ids


def _product_matches(rule: Rule, line: Line) -> bool:
    return line.product_id is not None and line.product_id in rule.product_ids


def describe(rule: Rule, value: Decimal | None, currency: str) -> str:
    """The offer at ``value``, for "Add ₹X more to the cart for <offer>.": "10% off",
    "₹100.00 off", "free shipping", "buy 2 get 1 free"."""
    if rule.rule_type == BUY_X_GET_Y and rule.discount_type != SHIPPING:
        return f"buy {max(rule.buy_quantity or 0, 0)} get {reward(rule, value, currency)}"
    return reward(rule, value, currency)


def reward(rule: Rule, value: Decimal | None, currency: str) -> str:
    """What the customer gets at ``value``, for "Buy N more to get <reward>.": as ``describe``
    but a BUY_X_GET_Y rule's reward is its free units ("1 free", "1 at 50% off")."""
    if rule.discount_type == SHIPPING:
        if rule.max_discount is not None:
            return f"up to {money_text(rule.max_discount, currency)} off shipping"
        return "free shipping"
    if rule.rule_type == BUY_X_GET_Y:
        count = max(rule.get_quantity or 0, 0)
        if rule.discount_type == FIXED_AMOUNT and value is not None:
            return f"{money_text(value, currency)} off {count}"
        percent = HUNDRED if value is None else value
        return f"{count} free" if percent >= HUNDRED else f"{count} at {number_text(percent)}% off"
    if value is None:
        return "a discount"
    if rule.discount_type == PERCENTAGE:
        return f"{number_text(value)}% off"
    return f"{money_text(value, currency)} off"


SCOPES = {CATEGORY: "selected categories", BRAND: "selected brands", PRODUCT: "selected products"}


def offer_summary(rules: tuple[Rule, ...], *, currency: str, min_cart_value: Decimal | None = None,
                  max_discount: Decimal | None = None) -> str:  # fmt: skip
    """A campaign in a line, for a customer's list of offers: "10% off selected brands on
    orders of ₹500.00 or more (at most ₹200.00)", "From 5% off when you buy 3 or more", "Free
    shipping". A tiered rule is described by its first tier, like the cart's hints."""
    parts = []
    for rule in rules:
        tiers = sorted_tiers(rule)
        text = describe(rule, opening_value(rule), currency)
        if tiers and len(tiers) > 1:
            text = f"from {text}"
        if rule.rule_type in SCOPES:
            text += f" on {SCOPES[rule.rule_type]}"
        if tiers and rule.rule_type == BULK_PURCHASE:
            text += f" when you buy {number_text(tiers[0].threshold)} or more"
        elif tiers:
            text += f" on orders of {money_text(tiers[0].threshold, currency)} or more"
        elif rule.min_quantity and rule.rule_type != BUY_X_GET_Y:
            text += f" when you buy {rule.min_quantity} or more"
        parts.append(text)
    summary = " + ".join(dict.fromkeys(parts)) or "a discount"
    if min_cart_value is not None:
        summary += f" on orders of {money_text(min_cart_value, currency)} or more"
    if max_discount is not None:
        summary += f" (at most {money_text(max_discount, currency)})"
    return summary[:1].upper() + summary[1:]


def opening_value(rule: Rule) -> Decimal | None:
    """The value a customer unlocks first: the lowest tier's, or the rule's own."""
    tiers = sorted_tiers(rule)
    return tiers[0].value if tiers else rule.value


def sorted_tiers(rule: Rule) -> list[Tier]:
    """Tiers by threshold (then value, so equal thresholds resolve the same way every time).
    Only quantity and cart-total rules have thresholds to compare tiers with."""
    if rule.rule_type not in (BULK_PURCHASE, CUSTOM_CART_TOTAL):
        return []
    return sorted(rule.tiers, key=lambda tier: (tier.threshold, tier.value))


def rule_outcome(rule: Rule, cart: CartView, *, campaign_id: int) -> RuleOutcome:
    """Judge one rule on the cart. See the module docstring of ``evaluate`` for the rules."""
    currency = cart.currency
    matched = matched_once(rule, cart.lines, cart.present, cart.matches)
    if not matched:
        return RuleOutcome("no_matching_items", "No item in the cart is one the campaign discounts.")
    units = sum(cart.lines[index].quantity for index in matched)

    if rule.min_quantity is not None and units < rule.min_quantity:
        missing = rule.min_quantity - units
        hint = Hint(
            campaign_id,
            f"Buy {missing} more to get {reward(rule, opening_value(rule), currency)}.",
            missing_quantity=missing,
        )
        message = f"The campaign needs {rule.min_quantity} of its items; the cart has {units}."
        return RuleOutcome("min_quantity", message, hints=[hint])

    value, hints = rule.value, []
    tiers = sorted_tiers(rule)
    if tiers:
        by_units = rule.rule_type == BULK_PURCHASE
        measure = Decimal(units) if by_units else cart.subtotal
        reached = [tier for tier in tiers if tier.threshold <= measure]
        if not reached:
            first = tiers[0]
            return _below_first_tier(rule, first, measure, by_units, currency, campaign_id)
        value = reached[-1].value
        # A nudge to the next tier that gives more than the one reached (free shipping is
        # free shipping on every tier: nothing better to nudge to).
        better = next((tier for tier in tiers if tier.threshold > measure and tier.value > value), None)
        if better is not None and rule.discount_type != SHIPPING:
            hints.append(_tier_hint(rule, better, measure, by_units, currency, campaign_id))

    picks = _picked_units(rule, cart, matched, campaign_id)
    if isinstance(picks, RuleOutcome):  # BUY_X_GET_Y without one full group
        return picks

    if rule.discount_type == SHIPPING:
        shipping = cart.shipping_left
        if rule.max_discount is not None:
            shipping = min(shipping, max(cents(rule.max_discount), ZERO))
        return RuleOutcome(shipping=max(shipping, ZERO), hints=hints)

    bases = {index: _base(cart, index, count) for index, count in picks.items() if count > 0}
    items = _discount(rule, value, bases)
    if rule.max_discount is not None:
        items = cap_amounts(items, rule.max_discount)
    return RuleOutcome(items=items, hints=hints)


def _below_first_tier(
    rule: Rule, first: Tier, measure: Decimal, by_units: bool, currency: str, campaign_id: int
) -> RuleOutcome:
    hint = _tier_hint(rule, first, measure, by_units, currency, campaign_id)
    if by_units:
        message = f"The campaign starts at {number_text(first.threshold)} of its items; the cart has {measure}."
        return RuleOutcome("min_quantity", message, hints=[hint])
    message = (
        f"The cart is {money_text(measure, currency)}; the campaign starts at {money_text(first.threshold, currency)}."
    )
    return RuleOutcome("min_cart", message, hints=[hint])


def _tier_hint(rule: Rule, tier: Tier, measure: Decimal, by_units: bool, currency: str, campaign_id: int) -> Hint:
    if by_units:
        missing = max(math.ceil(tier.threshold - measure), 1)
        gets = reward(rule, tier.value, currency)
        return Hint(campaign_id, f"Buy {missing} more to get {gets}.", missing_quantity=missing)
    gives = describe(rule, tier.value, currency)
    amount = max(cents_up(tier.threshold - measure), Decimal("0.01"))
    return Hint(campaign_id, f"Add {money_text(amount, currency)} more to the cart for {gives}.", missing_amount=amount)


def _by_price(cart: CartView, matched: list[int]) -> list[int]:
    """Matched lines dearest unit first; equal prices by sku, then by line order."""
    return sorted(matched, key=lambda index: (-cart.lines[index].unit_price, cart.lines[index].sku, index))


def _take(order: list[int], cart: CartView, count: int) -> dict[int, int]:
    """The first ``count`` units walking the lines in ``order``: line index -> units taken."""
    taken: dict[int, int] = {}
    for index in order:
        if count <= 0:
            break
        units = min(cart.lines[index].quantity, count)
        taken[index] = units
        count -= units
    return taken


def _picked_units(rule: Rule, cart: CartView, matched: list[int], campaign_id: int) -> dict[int, int] | RuleOutcome:
    """Which units the discount is on: line index -> how many of its units.

    All matched units, or the ``max_quantity`` dearest; for BUY_X_GET_Y the cheapest Y of
    every full group of X+Y (a shopper buying a ₹900 and a ₹100 shirt on "buy 1 get 1" gets
    the ₹100 one free), at most ``max_applications`` groups.
    """
    units = sum(cart.lines[index].quantity for index in matched)
    if rule.rule_type == BUY_X_GET_Y:
        buy, get = max(rule.buy_quantity or 0, 0), max(rule.get_quantity or 0, 0)
        size = buy + get
        if get == 0:
            return {}
        if units < size:
            missing = size - units
            hint = Hint(
                campaign_id,
                f"Buy {missing} more to get {reward(rule, rule.value, cart.currency)}.",
                missing_quantity=missing,
            )
            message = f"Buy {buy} get {get} needs {size} of its items; the cart has {units}."
            return RuleOutcome("min_quantity", message, hints=[hint])
        groups = units // size
        if rule.max_applications is not None:
            groups = min(groups, max(rule.max_applications, 0))
        free = groups * get
        if rule.max_quantity is not None:
            free = min(free, max(rule.max_quantity, 0))
        return _take(list(reversed(_by_price(cart, matched))), cart, free)
    if rule.max_quantity is not None:
        return _take(_by_price(cart, matched), cart, max(rule.max_quantity, 0))
    return {index: cart.lines[index].quantity for index in matched}


def _base(cart: CartView, index: int, count: int) -> Decimal:
    """What is left of ``count`` units of a line: its remaining amount pro rata."""
    quantity, remaining = cart.lines[index].quantity, cart.remaining[index]
    if count >= quantity:
        return remaining
    return min(cents(remaining * count / quantity), remaining)


def _discount(rule: Rule, value: Decimal | None, bases: dict[int, Decimal]) -> dict[int, Decimal]:
    """The rule's value applied to the picked units' remaining amounts."""
    if not bases:
        return {}
    is_bxgy = rule.rule_type == BUY_X_GET_Y
    if rule.discount_type == FIXED_AMOUNT and value is not None:
        # One amount off the picked units together, shared by what is left of each.
        total = sum(bases.values(), ZERO)
        amount = min(max(cents(value), ZERO), total)
        return dict(zip(bases, allocate(amount, list(bases.values())), strict=True))
    if rule.discount_type == PERCENTAGE or is_bxgy:
        percent = HUNDRED if value is None and is_bxgy else (value or ZERO)
        percent = min(max(percent, ZERO), HUNDRED)
        return {index: min(cents(base * percent / HUNDRED), base) for index, base in bases.items()}
    return {}


def cap_amounts(items: dict[int, Decimal], cap: Decimal) -> dict[int, Decimal]:
    """Shrink ``items`` to add up to ``cap`` when they exceed it, split by their sizes."""
    cap = max(cents(cap), ZERO)
    if sum(items.values(), ZERO) <= cap:
        return items
    return dict(zip(items, allocate(cap, list(items.values())), strict=True))
