"""One rule on one cart, whatever its type: the steps every rule goes through (match, minimum
quantity, tiers, picks, discount, caps), each step asking the rule's type (``RULE_TYPES``)."""

import math
from decimal import Decimal
from operator import attrgetter

from campaigns.engine.money import ZERO, cents_up, money_text, number_text, to_cents
from campaigns.engine.rules.base import UNITS, CartView, RuleOutcome, RuleType, cap_amounts, hundredths
from campaigns.engine.rules.catalogue import RULE_TYPES
from campaigns.engine.rules.targets import CartIndex
from campaigns.engine.types import PERCENTAGE, SHIPPING, Hint, Rule, Tier

NO_MATCH = "No item in the cart is one the campaign discounts."
_NOTHING: list[int] = []


_TIER_ORDER = attrgetter("threshold", "value")
_BY_KEY = RULE_TYPES  # a look-up per rule, without a call


def rule_type(rule: Rule) -> RuleType | None:
    return _BY_KEY.get(rule.rule_type)


def matched_once(rule: Rule, index: CartIndex, matches: dict[int, list[int]]) -> list[int]:
    """The live lines the rule is about (cart order), worked out once per rule per evaluation
    (``matches`` keeps them). An unknown rule type matches nothing."""
    matched = matches.get(id(rule))
    if matched is None:
        kind = _BY_KEY.get(rule.rule_type)
        matched = matches[id(rule)] = _NOTHING if kind is None else kind.matched(rule, index)
    return matched


def describe(rule: Rule, value: Decimal | None, currency: str) -> str:
    """The offer at ``value``, for "Add ₹X more to the cart for <offer>.": "10% off",
    "₹100.00 off", "free shipping", "buy 2 get 1 free"."""
    return (rule_type(rule) or _PLAIN).describe(rule, value, currency)


def reward(rule: Rule, value: Decimal | None, currency: str) -> str:
    """What the customer gets at ``value``, for "Buy N more to get <reward>."."""
    return (rule_type(rule) or _PLAIN).reward(rule, value, currency)


def sorted_tiers(rule: Rule) -> list[Tier]:
    """Tiers by threshold (then value, so equal thresholds resolve the same way every time).
    Only types whose tiers measure something (quantity, cart total) have tiers."""
    kind = rule_type(rule)
    if kind is None or kind.tiers_measure is None:
        return []
    return sorted(rule.tiers, key=_TIER_ORDER)


def opening_value(rule: Rule) -> Decimal | None:
    """The value a customer unlocks first: the lowest tier's, or the rule's own."""
    tiers = sorted_tiers(rule)
    return tiers[0].value if tiers else rule.value


def offer_summary(rules: tuple[Rule, ...], *, currency: str, min_cart_value: Decimal | None = None,
                  max_discount: Decimal | None = None) -> str:  # fmt: skip
    """A campaign in a line, for a customer's list of offers: "10% off selected brands on
    orders of ₹500.00 or more (at most ₹200.00)", "From 5% off when you buy 3 or more", "Free
    shipping". A tiered rule is described by its first tier, like the cart's hints."""
    parts = []
    for rule in rules:
        kind = rule_type(rule) or _PLAIN
        tiers = sorted_tiers(rule)
        text = describe(rule, opening_value(rule), currency)
        if len(tiers) > 1:
            text = f"from {text}"
        if kind.scope_text:
            text += f" on {kind.scope_text}"
        text += kind.condition_text(rule, tiers[0].threshold if tiers else None, currency)
        parts.append(text)
    summary = " + ".join(dict.fromkeys(parts)) or "a discount"
    if min_cart_value is not None:
        summary += f" on orders of {money_text(min_cart_value, currency)} or more"
    if max_discount is not None:
        summary += f" (at most {money_text(max_discount, currency)})"
    return summary[:1].upper() + summary[1:]


def rule_outcome(rule: Rule, cart: CartView, *, campaign_id: int) -> RuleOutcome:
    """Judge one rule on the cart. See the module docstring of ``evaluate`` for the rules."""
    kind = _BY_KEY.get(rule.rule_type)
    matched = cart.matches.get(id(rule))  # ``_judge`` has matched every rule of the campaign
    if matched is None:
        matched = matched_once(rule, cart.index, cart.matches)
    if kind is None or not matched:
        return RuleOutcome("no_matching_items", NO_MATCH)
    lines, currency = cart.lines, cart.currency
    # matched units, when something reads them (a minimum quantity, tiers measured in units)
    units = sum(map(cart.index.quantities.__getitem__, matched)) if rule.min_quantity or rule.tiers else 0

    if rule.min_quantity is not None and units < rule.min_quantity:
        missing = rule.min_quantity - units
        hint = Hint(
            campaign_id,
            f"Buy {missing} more to get {kind.reward(rule, opening_value(rule), currency)}.",
            missing_quantity=missing,
        )
        message = f"The campaign needs {rule.min_quantity} of its items; the cart has {units}."
        return RuleOutcome("min_quantity", message, hints=[hint])

    value, hints = rule.value, []
    tiers = sorted_tiers(rule) if rule.tiers else ()
    if tiers:
        by_units = kind.tiers_measure == UNITS
        measure = Decimal(units) if by_units else cart.subtotal
        reached = [tier for tier in tiers if tier.threshold <= measure]
        if not reached:
            return _below_first_tier(kind, rule, tiers[0], measure, by_units, currency, campaign_id)
        value = reached[-1].value
        # A nudge to the next tier that gives more than the one reached (free shipping is
        # free shipping on every tier: nothing better to nudge to).
        better = next((tier for tier in tiers if tier.threshold > measure and tier.value > value), None)
        if better is not None and rule.discount_type != SHIPPING:
            hints.append(_tier_hint(kind, rule, better, measure, by_units, currency, campaign_id))

    # None: every matched unit (the plain ``picks`` says so itself without a max_quantity)
    picks = None if kind.plain_picks and rule.max_quantity is None else kind.picks(rule, cart, matched, campaign_id)
    if isinstance(picks, RuleOutcome):  # BUY_X_GET_Y without one full group
        return picks

    if rule.discount_type == SHIPPING:
        shipping = cart.shipping_left
        if rule.max_discount is not None:
            shipping = min(shipping, max(to_cents(rule.max_discount), 0))
        return RuleOutcome(shipping=max(shipping, 0), hints=hints)

    left, taken = cart.base, cart.taken
    if picks is None and not taken and kind.plain_discount and rule.discount_type == PERCENTAGE:
        # the common case, without building the bases: a percentage of each matched line's
        # remaining amount (``percent_of``'s figures exactly)
        p = hundredths(value or ZERO)
        if p >= 0:
            items = {index: (left[index] * p + 5000) // 10000 for index in matched}
            if rule.max_discount is not None:
                items = cap_amounts(items, rule.max_discount)
            return RuleOutcome(items=items, hints=hints)
    if picks is None:  # every matched unit: what is left of each matched line
        bases = (
            {index: left[index] - taken.get(index, 0) for index in matched} if taken else {i: left[i] for i in matched}
        )
    else:
        bases = {
            index: (left[index] - taken.get(index, 0)) if count >= lines[index].quantity else _base(cart, index, count)
            for index, count in picks.items()
            if count > 0
        }
    items = kind.discount(rule, value, bases)
    if rule.max_discount is not None:
        items = cap_amounts(items, rule.max_discount)
    return RuleOutcome(items=items, hints=hints)


def _below_first_tier(
    kind: RuleType, rule: Rule, first: Tier, measure: Decimal, by_units: bool, currency: str, campaign_id: int
) -> RuleOutcome:
    hint = _tier_hint(kind, rule, first, measure, by_units, currency, campaign_id)
    if by_units:
        message = f"The campaign starts at {number_text(first.threshold)} of its items; the cart has {measure}."
        return RuleOutcome("min_quantity", message, hints=[hint])
    message = (
        f"The cart is {money_text(measure, currency)}; the campaign starts at {money_text(first.threshold, currency)}."
    )
    return RuleOutcome("min_cart", message, hints=[hint])


def _tier_hint(
    kind: RuleType, rule: Rule, tier: Tier, measure: Decimal, by_units: bool, currency: str, campaign_id: int
) -> Hint:
    if by_units:
        missing = max(math.ceil(tier.threshold - measure), 1)
        gets = kind.reward(rule, tier.value, currency)
        return Hint(campaign_id, f"Buy {missing} more to get {gets}.", missing_quantity=missing)
    gives = kind.describe(rule, tier.value, currency)
    amount = max(cents_up(tier.threshold - measure), Decimal("0.01"))
    return Hint(campaign_id, f"Add {money_text(amount, currency)} more to the cart for {gives}.", missing_amount=amount)


def _base(cart: CartView, index: int, count: int) -> int:
    """What is left of ``count`` units of a line: its remaining cents pro rata (half up)."""
    quantity, remaining = cart.lines[index].quantity, cart.left(index)
    if count >= quantity:
        return remaining
    return min((2 * remaining * count + quantity) // (2 * quantity), remaining)


class _Plain(RuleType):
    """An unregistered rule type's words (its rules match nothing)."""

    key, label = "", ""


_PLAIN = _Plain()
