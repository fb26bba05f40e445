"""BUY_X_GET_Y: in every full group of X+Y of its items, the cheapest Y get ``value`` % off.

A shopper buying a ₹900 and a ₹100 shirt on "buy 1 get 1" gets the ₹100 one free; at most
``max_applications`` groups and ``max_quantity`` discounted units.
"""

from decimal import Decimal
from typing import Any

from campaigns.engine.money import ZERO, money_text, number_text
from campaigns.engine.rules.base import (
    HUNDRED,
    CartView,
    RuleOutcome,
    RuleType,
    by_price,
    fixed_split,
    percent_of,
    shipping_text,
    take,
)
from campaigns.engine.rules.targets import ANY
from campaigns.engine.types import BUY_X_GET_Y, FIXED_AMOUNT, PERCENTAGE, SHIPPING, Hint, Rule


class BuyXGetY(RuleType):
    key = BUY_X_GET_Y
    label = "Buy X get Y"
    scope = ANY
    own_fields = ("buy_quantity", "get_quantity", "max_applications")

    def check(self, rule: dict[str, Any], discount_type: str) -> tuple[str, str] | None:
        if discount_type != PERCENTAGE:
            return "discount_type", "Buy X get Y takes a PERCENTAGE off the Y items (100 = free)."
        for name in ("buy_quantity", "get_quantity"):
            if not rule.get(name):
                return name, "Buy X get Y needs buy_quantity (X) and get_quantity (Y)."
        if rule.get("value") is None:
            rule["value"] = Decimal("100")
        return None

    def picks(self, rule: Rule, cart: CartView, matched: list[int], campaign_id: int) -> dict[int, int] | RuleOutcome:
        lines = cart.lines
        units = sum(lines[index].quantity for index in matched)
        buy, get = max(rule.buy_quantity or 0, 0), max(rule.get_quantity or 0, 0)
        size = buy + get
        if get == 0:
            return {}
        if units < size:
            missing = size - units
            hint = Hint(
                campaign_id,
                f"Buy {missing} more to get {self.reward(rule, rule.value, cart.currency)}.",
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
        return take(list(reversed(by_price(cart, matched))), cart, free)

    def discount(self, rule: Rule, value: Decimal | None, bases: dict[int, int]) -> dict[int, int]:
        if not bases:
            return {}
        if rule.discount_type == FIXED_AMOUNT and value is not None:
            return fixed_split(value, bases)
        return percent_of(HUNDRED if value is None else (value or ZERO), bases)

    def reward(self, rule: Rule, value: Decimal | None, currency: str) -> str:
        """The free units: "1 free", "1 at 50% off"."""
        if rule.discount_type == SHIPPING:
            return shipping_text(rule, currency)
        count = max(rule.get_quantity or 0, 0)
        if rule.discount_type == FIXED_AMOUNT and value is not None:
            return f"{money_text(value, currency)} off {count}"
        percent = HUNDRED if value is None else value
        return f"{count} free" if percent >= HUNDRED else f"{count} at {number_text(percent)}% off"

    def describe(self, rule: Rule, value: Decimal | None, currency: str) -> str:
        if rule.discount_type == SHIPPING:
            return self.reward(rule, value, currency)
        return f"buy {max(rule.buy_quantity or 0, 0)} get {self.reward(rule, value, currency)}"

    def condition_text(self, rule: Rule, first_threshold: Decimal | None, currency: str) -> str:
        return ""  # the groups are the condition ("buy 2 get 1 free")
